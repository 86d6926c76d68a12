import { GraphQLError, GraphQLScalarType, execute, parse } from 'graphql';
import { compileQuery } from 'graphql-jit';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { unwrapResolverError } from '@apollo/server/errors';
import { CompiledExecution } from '../../src/server/compiled-execution';
import { NotFoundError } from '../../src/platform/errors';

const schema = makeExecutableSchema({
  typeDefs: `
    type Query { bars(n: Int!): [Bar!]!, missing: Bar, count: Int! }
    type Mutation { bump: Int! }
    type Bar { i: Int!, price: String!, broken: String }`,
  resolvers: {
    Query: {
      bars: (_: unknown, { n }: { n: number }) => Array.from({ length: n }, (_, i) => ({ i, price: `${i}.50` })),
      missing: () => { throw new NotFoundError('bar', 'x'); },
      count: (_: unknown, __: unknown, ctx: { calls: number }) => ++ctx.calls,
    },
    // async, and slower for the first field: run at once, the fields would finish out of order
    Mutation: {
      bump: async (_: unknown, __: unknown, ctx: { calls: number; log?: string[] }) => {
        const n = ++ctx.calls;
        ctx.log?.push(`start ${n}`);
        await new Promise((r) => setTimeout(r, n % 3 === 1 ? 20 : 1));
        ctx.log?.push(`end ${n}`);
        return n;
      },
    },
    Bar: { broken: (bar: { i: number }) => { if (bar.i === 1) throw new Error('boom'); return 'ok'; } },
  },
});

const query = parse('query Q($n: Int!) { bars(n: $n) { i price broken } missing { i } }');

describe('compiled query execution', () => {
  it('compiles a query on its second use and answers exactly as graphql-js does, errors included', async () => {
    const execution = new CompiledExecution(schema);
    const interpreted = await execution.run(query, 'Q', true, { calls: 0 }, { n: 3 });
    expect(execution.isCompiled(query, 'Q')).toBe(false);
    const compiled = await execution.run(query, 'Q', true, { calls: 0 }, { n: 3 });
    expect(execution.isCompiled(query, 'Q')).toBe(true);
    expect(JSON.parse(JSON.stringify(compiled))).toEqual(JSON.parse(JSON.stringify(interpreted)));
    expect(compiled.data).toEqual({ bars: [{ i: 0, price: '0.50', broken: 'ok' }, { i: 1, price: '1.50', broken: null }, { i: 2, price: '2.50', broken: 'ok' }], missing: null });
  });

  it('keeps each error a graphql-js GraphQLError with its path, locations and the resolver\'s own error', async () => {
    const execution = new CompiledExecution(schema);
    await execution.run(query, 'Q', true, {}, { n: 2 });
    const result = await execution.run(query, 'Q', true, {}, { n: 2 });
    expect(execution.isCompiled(query, 'Q')).toBe(true);
    const errors = [...(result.errors ?? [])].sort((a, b) => String(a.path).localeCompare(String(b.path)));
    expect(errors.map((e) => e.path)).toEqual([['bars', 1, 'broken'], ['missing']]);
    for (const error of errors) {
      expect(error).toBeInstanceOf(GraphQLError);
      expect(error.constructor).toBe(GraphQLError);
      expect(error.locations?.length).toBe(1);
    }
    // What Apollo's formatError unwraps: the resolver's typed error, so its code survives.
    expect(unwrapResolverError(errors[1])).toBeInstanceOf(NotFoundError);
    expect((unwrapResolverError(errors[0]) as Error).message).toBe('boom');
  });

  it('lets graphql-js report variables that do not coerce, as it would have', async () => {
    const execution = new CompiledExecution(schema);
    await execution.run(query, 'Q', true, {}, { n: 1 });
    await execution.run(query, 'Q', true, {}, { n: 1 });
    const result = await execution.run(query, 'Q', true, {}, { n: 'three' });
    expect(result.data).toBeUndefined();
    expect(result.errors).toHaveLength(1);
    // Apollo recognises exactly this shape as BAD_USER_INPUT: one node, the variable definition.
    expect(result.errors![0].nodes?.[0].kind).toBe('VariableDefinition');
    expect(result.errors![0].message).toMatch(/^Variable "\$n" got invalid value "three"/);
  });

  it('compiles mutations too, and runs their root fields one after another', async () => {
    const execution = new CompiledExecution(schema);
    const mutation = parse('mutation { a: bump b: bump c: bump }');
    const ctx = { calls: 0, log: [] as string[] };
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await execution.run(mutation, null, true, ctx, {}));
    expect(execution.isCompiled(mutation, null)).toBe(true);
    expect(results.map((r) => r.data)).toEqual([{ a: 1, b: 2, c: 3 }, { a: 4, b: 5, c: 6 }, { a: 7, b: 8, c: 9 }]);
    // the compiled run (the third) started each field after the one before it ended
    expect(ctx.log.slice(12)).toEqual(['start 7', 'end 7', 'start 8', 'end 8', 'start 9', 'end 9']);
  });

  // patches/graphql-jit+0.8.9.patch: leaf fields check null and errors inline, building the error's locations and path
  // only when there is an error (unpatched, every leaf of every row allocated them: a third of a page's garbage).
  describe('leaf checks (patched graphql-jit)', () => {
    const Money = new GraphQLScalarType({
      name: 'Money',
      serialize: (v) => {
        if (v === 'bad') throw new Error('Money cannot serialize bad');
        return String(v);
      },
    });
    const leafSchema = makeExecutableSchema({
      typeDefs: `scalar Money
        type Query { rows: [Row]! }
        type Row { id: Int!, amount: Money!, maybe: Money, name: String!, note: String }`,
      resolvers: {
        Money,
        Query: {
          rows: () => [
            { id: 1, amount: '1.5', maybe: null, name: 'a', note: null },
            { id: 2, amount: null, maybe: '2', name: 'b', note: 'x' },
            { id: 3, amount: 'bad', maybe: '3', name: 'c', note: 'x' },
            { id: 4, amount: new Error('amount failed'), maybe: '4', name: 'd', note: 'x' },
            { id: 5, amount: '5', maybe: '5', name: null, note: 'x' },
            { id: 6, amount: '6', maybe: 'bad', name: 'f', note: new Error('note failed') },
          ],
        },
      },
    });
    const rowsQuery = parse('query R { rows { id amount maybe name note } }');

    it('generates no per-leaf runtime call', () => {
      const compiled = compileQuery(leafSchema, rowsQuery, 'R', { debug: true } as never) as unknown as Record<string, string>;
      const body = compiled.__DO_NOT_USE_THIS_OR_YOU_WILL_BE_FIRED_compilation;
      expect(body).toContain('MoneySerializer');
      expect(body).not.toMatch(/checkNonNullLeaf|checkNullableLeaf/);
    });

    it('answers nulls, errors and serializer failures of leaves as graphql-js does', async () => {
      const execution = new CompiledExecution(leafSchema);
      await execution.run(rowsQuery, 'R', true, {}, {});
      const compiled = await execution.run(rowsQuery, 'R', true, {}, {});
      expect(execution.isCompiled(rowsQuery, 'R')).toBe(true);
      const interpreted = await execute({ schema: leafSchema, document: rowsQuery, contextValue: {} });
      const shape = (r: typeof compiled) => ({
        data: r.data,
        errors: [...(r.errors ?? [])].map((e) => ({ message: e.message, path: e.path, locations: e.locations })).sort((a, b) => String(a.path).localeCompare(String(b.path))),
      });
      // A non-null leaf that fails nulls its row (the list's items may be null).
      expect(compiled.data).toEqual({ rows: [{ id: 1, amount: '1.5', maybe: null, name: 'a', note: null }, null, null, null, null, { id: 6, amount: '6', maybe: null, name: 'f', note: null }] });
      expect(shape(compiled)).toEqual(shape(interpreted));
      expect(shape(compiled).errors.map((e) => e.path)).toEqual([
        ['rows', 1, 'amount'], ['rows', 2, 'amount'], ['rows', 3, 'amount'], ['rows', 4, 'name'], ['rows', 5, 'maybe'], ['rows', 5, 'note'],
      ]);
    });

    it('keeps the good rows when only nullable leaves fail', async () => {
      const execution = new CompiledExecution(leafSchema);
      const nullable = parse('query N { rows { id maybe note } }');
      await execution.run(nullable, 'N', true, {}, {});
      const compiled = await execution.run(nullable, 'N', true, {}, {});
      expect(compiled.data).toEqual({ rows: [1, 2, 3, 4, 5].map((id) => ({ id, maybe: id === 1 ? null : String(id), note: id === 1 ? null : 'x' })).concat({ id: 6, maybe: null, note: null }) });
      expect(compiled.errors?.map((e) => e.path)).toEqual([['rows', 5, 'maybe'], ['rows', 5, 'note']]);
      expect(compiled.errors?.find((e) => String(e.path) === 'rows,5,note')?.locations).toEqual([{ line: 1, column: 27 }]);
    });
  });

  it('leaves what it is told not to compile to graphql-js', async () => {
    const execution = new CompiledExecution(schema);
    for (let i = 0; i < 3; i++) await execution.run(query, 'Q', false, {}, { n: 1 });
    expect(execution.isCompiled(query, 'Q')).toBe(false);
  });
});
