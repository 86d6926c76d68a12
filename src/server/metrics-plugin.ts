/**
 * Request metrics: an Apollo plugin for operations over HTTP, and graphql-ws hooks for those over WebSocket (which
 * never pass through Apollo). Both record each operation once, with its time, and the code of each error sent.
 */
import { getOperationAST, type GraphQLError } from 'graphql';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { ConnectionInitMessage, ServerOptions } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import { AppError } from '../platform/errors';
import type { GatewayMetrics, OperationType, Outcome } from '../platform/metrics';

type WsOptions = ServerOptions<ConnectionInitMessage['payload'], Extra>;

function outcomeOf(data: unknown, errors: readonly unknown[] | undefined): Outcome {
  if (!errors?.length) return 'success';
  return data === null || data === undefined ? 'error' : 'partial';
}

const secondsSince = (start: number) => (performance.now() - start) / 1000;

export function metricsPlugin<T extends BaseContext>(metrics: GatewayMetrics): ApolloServerPlugin<T> {
  return {
    async requestDidStart({ request }) {
      const start = performance.now();
      // Requests refused before an operation was found (parse or validation errors) stay "unknown".
      let type: OperationType = 'unknown';
      return {
        async didResolveOperation({ operation }) {
          type = operation?.operation ?? 'unknown';
        },
        async willSendResponse({ response, operationName }) {
          const name = operationName ?? request.operationName;
          if (response.body.kind !== 'single') {
            metrics.request(name, type, 'success', secondsSince(start));
            return;
          }
          // Errors here are already formatted: their codes are the ones the client sees.
          const { data, errors } = response.body.singleResult;
          metrics.request(name, type, outcomeOf(data, errors), secondsSince(start));
          metrics.errorCodes((errors ?? []).map((e) => e.extensions?.code));
        },
      };
    },
  };
}

/** Stream failures (e.g. a subscriber that fell behind) reach onError unformatted: their code is on the AppError. */
function codeOf(error: GraphQLError | { extensions?: Record<string, unknown> }): unknown {
  const original = (error as GraphQLError).originalError;
  return error.extensions?.code ?? (original instanceof AppError ? original.code : undefined);
}

/**
 * The graphql-ws options with metrics around their hooks (none without metrics). A subscription's time is the time
 * to set it up, not how long it stays open.
 */
export function withWsMetrics(metrics: GatewayMetrics | undefined, options: WsOptions): WsOptions {
  if (!metrics) return options;
  // Per connection, by operation id: when its subscribe message came.
  const started = new WeakMap<object, Map<string, number>>();
  return {
    ...options,
    async onSubscribe(ctx, id, payload) {
      const start = performance.now();
      const result = await options.onSubscribe?.(ctx, id, payload);
      if (Array.isArray(result)) {
        // Refused before it ran; its errors are counted in onError.
        metrics.request(payload.operationName, 'unknown', 'error', secondsSince(start));
      } else {
        if (!started.has(ctx)) started.set(ctx, new Map());
        started.get(ctx)!.set(id, start);
      }
      return result;
    },
    async onOperation(ctx, id, payload, args, result) {
      const start = started.get(ctx)?.get(id) ?? performance.now();
      started.get(ctx)?.delete(id);
      const operation = getOperationAST(args.document, args.operationName);
      const value = await result; // already settled: graphql-ws awaits it first; the type allows a promise
      const outcome = Symbol.asyncIterator in value ? 'success' : outcomeOf(value.data, value.errors);
      metrics.request(operation?.name?.value ?? payload.operationName, operation?.operation ?? 'unknown', outcome, secondsSince(start));
      return options.onOperation?.(ctx, id, payload, args, result);
    },
    async onNext(ctx, id, payload, args, result) {
      const formatted = await options.onNext?.(ctx, id, payload, args, result);
      metrics.errorCodes(((formatted || result).errors ?? []).map(codeOf));
      return formatted;
    },
    async onError(ctx, id, payload, errors) {
      const formatted = await options.onError?.(ctx, id, payload, errors);
      metrics.errorCodes((formatted || errors).map(codeOf));
      return formatted;
    },
  };
}
