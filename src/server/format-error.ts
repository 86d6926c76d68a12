/**
 * One place where errors become GraphQL errors: typed errors keep their code and details, database errors are mapped
 * by category, GraphQL's own validation errors pass through, and everything else is logged and masked.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { AppError } from '../platform/errors';
import { mapDatabaseError } from '../platform/db-errors';
import type { Logger } from '../platform/logger';

const PASS_THROUGH = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'RATE_LIMITED', 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE']);

export function createFormatError(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    // A resolver's error, or one of ours that the request's context raised as a GraphQL error (see gateway.ts)
    const unwrapped = unwrapResolverError(error);
    const original = unwrapped instanceof GraphQLError && unwrapped.originalError instanceof AppError ? unwrapped.originalError : unwrapped;
    const mapped = original instanceof AppError ? original : mapDatabaseError(original);
    if (mapped) {
      if (!(original instanceof AppError)) {
        log.warn({ err: errInfo(original), path: formatted.path, code: mapped.code }, 'database error mapped');
      }
      return { message: mapped.message, path: formatted.path, locations: formatted.locations, extensions: { ...mapped.details, code: mapped.code } };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && PASS_THROUGH.has(code)) {
      // RATE_LIMITED says when to come back
      const retryAfterMs = formatted.extensions?.retryAfterMs;
      const extensions = typeof retryAfterMs === 'number' ? { code, retryAfterMs } : { code };
      return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions };
    }
    // GraphQL errors thrown by scalars carry our code; anything else is unexpected: log it whole, show nothing of it.
    log.error({ err: errInfo(original), path: formatted.path }, 'unexpected error');
    return { message: 'Internal server error', path: formatted.path, locations: formatted.locations, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}

function errInfo(e: unknown) {
  const err = e as Error & { code?: string };
  return { name: err?.name, message: err?.message, code: err?.code, stack: err?.stack };
}
