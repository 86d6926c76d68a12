import { GraphQLError, parse } from 'graphql';
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

  it('leaves what it is told not to compile to graphql-js', async () => {
    const execution = new CompiledExecution(schema);
    for (let i = 0; i < 3; i++) await execution.run(query, 'Q', false, {}, { n: 1 });
    expect(execution.isCompiled(query, 'Q')).toBe(false);
  });
});
