/**
 * What is running right now: the request (its id, its GraphQL operation and the module it belongs to) or the
 * background component, kept in an AsyncLocalStorage set around each operation's execution. knex emits its query
 * events in the async context of the call that ran the statement, so statement timings and log lines can say whose
 * they are without passing anything down.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Kind, execute, getOperationAST, subscribe, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { operationLabel } from './metrics';

export interface RequestStore {
  /** the request's correlation id (X-Request-Id or generated); none for background work */
  requestId?: string;
  /** the module of the operation's root fields ("orders", "market-data"), or "gateway" */
  service: string;
  /** the GraphQL operation name (or its first root field), or the background component */
  operation: string;
  /** the monitoring's own writes: counted, never reported as slow nor logged to the database */
  quiet?: boolean;
}

export const requestContext = new AsyncLocalStorage<RequestStore>();

/** The store of work that belongs to no request: a background component's loop, the monitoring's writes. */
export function background(component: string, quiet = false): RequestStore {
  return { service: 'gateway', operation: component, ...(quiet ? { quiet } : {}) };
}

type RootType = 'query' | 'mutation' | 'subscription';
type ResolverMaps = Record<string, { Query?: object; Mutation?: object; Subscription?: object }>;

/** Which module serves each root field, from the modules' resolver maps: (root type, field) -> module name. */
export function rootFieldServices(modules: ResolverMaps): (type: RootType, field: string) => string | undefined {
  const byField = new Map<string, string>();
  for (const [module, maps] of Object.entries(modules)) {
    for (const [type, fields] of [['query', maps.Query], ['mutation', maps.Mutation], ['subscription', maps.Subscription]] as const) {
      for (const field of Object.keys(fields ?? {})) byField.set(`${type}.${field}`, module);
    }
  }
  return (type, field) => byField.get(`${type}.${field}`);
}

/**
 * The service and operation of a document: the root fields' module when they share one ("gateway" otherwise, and
 * for introspection); the operation's name, or for an anonymous one its first root field.
 */
export function describeOperation(
  document: DocumentNode,
  operationName: string | null | undefined,
  serviceOf: (type: RootType, field: string) => string | undefined,
): { service: string; operation: string } {
  const op = getOperationAST(document, operationName);
  if (!op) return { service: 'gateway', operation: 'unknown' };
  const fields = op.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD && !s.name.value.startsWith('__') ? [s.name.value] : []));
  const services = new Set(fields.map((f) => serviceOf(op.operation, f) ?? 'gateway'));
  return {
    service: services.size === 1 ? [...services][0] : 'gateway',
    // Names are the client's: bounded like the metrics' labels. Root fields come from the schema.
    operation: op.name ? operationLabel(op.name.value) : (fields[0] ?? 'anonymous'),
  };
}

/**
 * describeOperation remembered per document and operation name: Apollo keeps one parsed document per query text, so
 * each distinct operation is described once (graphql-ws parses every subscription anew: those are described each time).
 */
export function operationDescriber(serviceOf: (type: RootType, field: string) => string | undefined) {
  const known = new WeakMap<DocumentNode, Map<string, { service: string; operation: string }>>();
  return (document: DocumentNode, operationName: string | null | undefined): { service: string; operation: string } => {
    let byName = known.get(document);
    if (!byName) known.set(document, (byName = new Map()));
    const key = operationName ?? '';
    let described = byName.get(key);
    if (!described) byName.set(key, (described = describeOperation(document, operationName, serviceOf)));
    return described;
  };
}

/** An async iterable whose every step runs in `store` (graphql-ws pulls subscription events from its own loop). */
function bindIterable<T>(store: RequestStore, iterable: AsyncIterable<T>): AsyncGenerator<T> {
  const it = iterable[Symbol.asyncIterator]();
  const bound: AsyncGenerator<T> = {
    next: (...args) => requestContext.run(store, () => it.next(...args)),
    return: (value) => requestContext.run(store, () => it.return?.(value) ?? Promise.resolve({ done: true as const, value: value as T })),
    throw: (error) => requestContext.run(store, () => it.throw?.(error) ?? Promise.reject(error)),
    [Symbol.asyncIterator]: () => bound,
    [Symbol.asyncDispose]: async () => {
      await bound.return(undefined);
    },
  };
  return bound;
}

/**
 * graphql-ws `execute` and `subscribe` that run each operation, and each event of a subscription, in its request
 * context: graphql-ws has no hook that wraps execution.
 */
export function contextualExecution(storeOf: (args: ExecutionArgs) => RequestStore) {
  return {
    execute: (args: ExecutionArgs) => requestContext.run(storeOf(args), () => execute(args)),
    subscribe: (args: ExecutionArgs) => {
      const store = storeOf(args);
      return requestContext.run(store, async () => {
        const result = await subscribe(args);
        return Symbol.asyncIterator in result ? bindIterable<ExecutionResult>(store, result) : result;
      });
    },
  };
}
