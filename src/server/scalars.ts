/** Decimal (exact, as a string), DateTime (ISO 8601 UTC with Z) and Date (YYYY-MM-DD). */
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { decimalText } from '../platform/decimal';
import { toIsoUtc } from '../platform/time';

const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

function parseDecimalValue(value: unknown): string {
  if (typeof value === 'number') {
    // A fractional JSON number may already have been rounded by the client's float: refuse it.
    if (Number.isSafeInteger(value)) return String(value);
    throw badInput(`Decimal must be a string (got the number ${value}); send "${value}" to keep it exact`);
  }
  if (typeof value !== 'string' || !DECIMAL_TEXT.test(value.trim())) throw badInput(`Decimal cannot represent ${JSON.stringify(value)}`);
  return value.trim();
}

export const DecimalScalar = new GraphQLScalarType({
  name: 'Decimal',
  serialize(value) {
    if (typeof value === 'string') return decimalText(value);
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    if (value && typeof (value as { toFixed?: unknown }).toFixed === 'function') return decimalText((value as { toFixed(): string }).toFixed());
    throw new GraphQLError(`Decimal cannot serialize ${typeof value}`);
  },
  parseValue: parseDecimalValue,
  parseLiteral(ast: ValueNode) {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT) return parseDecimalValue(ast.kind === Kind.INT ? ast.value : ast.value);
    if (ast.kind === Kind.FLOAT) throw badInput(`Decimal must be a string (got ${ast.value}); write "${ast.value}" to keep it exact`);
    throw badInput('Decimal must be a string');
  },
});

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Serialises a Date or PostgreSQL UTC text as ISO 8601 with Z, keeping microseconds when present. */
export function isoDateTime(value: unknown): string {
  const iso = toIsoUtc(value);
  if (iso === null) throw new GraphQLError(`DateTime cannot serialize ${JSON.stringify(value)}`);
  return iso;
}

function parseDateTimeValue(value: unknown): Date {
  if (typeof value !== 'string' || !ISO_8601.test(value)) {
    throw badInput(`DateTime must be ISO 8601 with a time zone, e.g. "2026-11-26T14:30:00Z" (got ${JSON.stringify(value)})`);
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw badInput(`DateTime ${value} is not a valid date`);
  return d;
}

export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  serialize: isoDateTime,
  parseValue: parseDateTimeValue,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw badInput('DateTime must be a string');
    return parseDateTimeValue(ast.value);
  },
});

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function parseDateValue(value: unknown): string {
  if (typeof value !== 'string' || !DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw badInput(`Date must be YYYY-MM-DD (got ${JSON.stringify(value)})`);
  }
  return value;
}

export const DateScalar = new GraphQLScalarType({
  name: 'Date',
  serialize(value) {
    if (value instanceof Date) return value.toISOString().slice(0, 10);
    if (typeof value === 'string') return value.slice(0, 10);
    throw new GraphQLError('Date cannot serialize this value');
  },
  parseValue: parseDateValue,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw badInput('Date must be a string');
    return parseDateValue(ast.value);
  },
});
