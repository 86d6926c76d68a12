/**
 * One rule for every text argument of every root field, before anything runs: PostgreSQL's text cannot hold the
 * NUL character (U+0000), and a statement carrying one fails in the driver rather than as a clear input error.
 */
import { GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { ValidationError } from '../platform/errors';

/** Whether any string at any depth holds U+0000. */
function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(hasNul);
  if (value && typeof value === 'object') {
    for (const key in value) if (hasNul((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

/** The path of the first string (at any depth) holding U+0000, or null. */
export function findNul(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findNul(item, `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const found = findNul(item, path ? `${path}.${key}` : key);
      if (found) return found;
    }
  }
  return null;
}

/** Wraps the root fields of the schema (in place): a NUL anywhere in the arguments is BAD_USER_INPUT naming the field. */
export function applyInputGuard(schema: GraphQLSchema): GraphQLSchema {
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    if (!(type instanceof GraphQLObjectType)) continue;
    for (const field of Object.values(type.getFields())) {
      const check = (args: Record<string, unknown>) => {
        // The path is built only when there is something to report: a batch of 10,000 bars has 80,000 values.
        if (!hasNul(args)) return;
        const at = findNul(args, '');
        if (at) throw ValidationError.field(at, 'must not contain the NUL character (U+0000)');
      };
      const { resolve, subscribe } = field;
      if (subscribe) field.subscribe = (parent, args, ctx, info) => (check(args), subscribe(parent, args, ctx, info));
      else if (resolve) field.resolve = (parent, args, ctx, info) => (check(args), resolve(parent, args, ctx, info));
    }
  }
  return schema;
}
