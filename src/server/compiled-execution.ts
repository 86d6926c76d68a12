/**
 * Operation execution for Apollo, compiled: graphql-jit turns a document into a function specialised to its
 * selections (no per-field dispatch, argument coercion or type lookups at run time), which is where graphql-js spent
 * most of its CPU on large results (a day of 1-minute bars is ~3,000 fields) and large inputs. Plugged in through
 * Apollo's executor hook (its gateway interface), so parsing, validation, plugins, formatError and the HTTP handling
 * stay Apollo's.
 *
 * - Queries and mutations are compiled once their document has been seen twice (compiling costs more than one
 *   interpreted run). Compiled mutations still run their root fields one after another. For a batch of 10,000 bars
 *   the compiled variable coercion is about 4x cheaper than graphql-js's.
 * - A compiled run that fails before execution (variables that do not coerce) is run again by graphql-js, which
 *   reports the error the standard way (Apollo turns it into BAD_USER_INPUT, status 400). Nothing ran the first time.
 * - graphql-jit's errors are rebuilt as graphql-js errors, so Apollo and formatError see the resolver's original
 *   error (AppError codes, database errors) exactly as with graphql-js.
 * - patches/graphql-jit+0.8.9.patch (applied by patch-package at install): the generated code checks each leaf for
 *   null or an error inline. Unpatched, every leaf of every row passed freshly built location and path arrays to a
 *   runtime helper, used only for an error: a day of bars allocated about 210 KB per request for nothing.
 */
import { execute, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';

type Gateway = ApolloServerOptionsWithGateway<BaseContext>['gateway'];

/** What one document (per operation name) has become: a use count until it is compiled. */
type Entry = { uses: number } | { compiled: CompiledQuery };

const COMPILE_AFTER_USES = 2;

export class CompiledExecution {
  /** Keyed by Apollo's parsed document, which its document cache reuses for the same query text: bounded by it. */
  private readonly entries = new WeakMap<DocumentNode, Map<string, Entry>>();

  constructor(private readonly schema: GraphQLSchema) {}

  async run(document: DocumentNode, operationName: string | null, compile: boolean, contextValue: unknown, variableValues: Record<string, unknown> | undefined): Promise<ExecutionResult> {
    const compiled = compile ? this.compiledFor(document, operationName) : null;
    if (!compiled) return execute({ schema: this.schema, document, operationName, contextValue, variableValues });
    const result = await compiled.query(undefined, contextValue, variableValues ?? {});
    if (result.errors?.length && result.data === undefined) {
      return execute({ schema: this.schema, document, operationName, contextValue, variableValues });
    }
    return result.errors?.length ? { ...result, errors: result.errors.map(asGraphQLJsError) } : result;
  }

  /** Whether a document's operation runs compiled by now. */
  isCompiled(document: DocumentNode, operationName: string | null): boolean {
    const entry = this.entries.get(document)?.get(operationName ?? '');
    return entry !== undefined && 'compiled' in entry;
  }

  private compiledFor(document: DocumentNode, operationName: string | null): CompiledQuery | null {
    let byName = this.entries.get(document);
    if (!byName) this.entries.set(document, (byName = new Map()));
    const key = operationName ?? '';
    const entry = byName.get(key) ?? { uses: 0 };
    if ('compiled' in entry) return entry.compiled;
    if (++entry.uses < COMPILE_AFTER_USES) {
      byName.set(key, entry);
      return null;
    }
    const compiled = compileQuery(this.schema, document, operationName ?? undefined, { disablingCapturingStackErrors: true });
    if (!isCompiledQuery(compiled)) {
      // Not compilable (it validated, so this is graphql-jit's limit): stay on graphql-js for good.
      byName.set(key, { uses: -Infinity });
      return null;
    }
    byName.set(key, { compiled });
    return compiled;
  }
}

/** A graphql-jit error as the graphql-js error Apollo expects: same message, path, locations and original error. */
function asGraphQLJsError(error: GraphQLError): GraphQLError {
  const rebuilt = new GraphQLError(error.message, {
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: error.originalError ? undefined : error.extensions,
  });
  if (error.locations) (rebuilt as { locations?: unknown }).locations = error.locations;
  return rebuilt;
}

/** Apollo's executor hook: the schema as a fixed "gateway" whose executor is the compiled execution above. */
export function compiledExecutionGateway(schema: GraphQLSchema): Gateway {
  const execution = new CompiledExecution(schema);
  return {
    async load() {
      return {
        // Subscriptions run over WebSocket (graphql-ws); one sent over HTTP is left to graphql-js to refuse.
        executor: (request) => execution.run(request.document, request.operationName, request.operation.operation !== 'subscription', request.context, request.request.variables),
      };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => undefined;
    },
    async stop() {},
  };
}
