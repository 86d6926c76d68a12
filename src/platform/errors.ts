/** Typed errors that carry a GraphQL `extensions.code`; everything else is masked as INTERNAL_SERVER_ERROR. */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'INTERNAL_SERVER_ERROR';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** One problem with one input field. */
export interface FieldProblem {
  field: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(message: string, readonly problems: FieldProblem[] = []) {
    super('BAD_USER_INPUT', message, problems.length ? { problems } : {});
  }

  static field(field: string, message: string): ValidationError {
    return new ValidationError(`${field}: ${message}`, [{ field, message }]);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} ${id} not found`, { id });
  }
}

/** A lost optimistic-lock race or a duplicate with another payload; carries the current version when known. */
export class ConflictError extends AppError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('CONFLICT', message, details);
  }
}

/** The database cannot be reached; safe to retry. The message says so without naming hosts or SQL. */
export class DatabaseUnavailableError extends AppError {
  constructor() {
    super('INTERNAL_SERVER_ERROR', 'the database is unavailable; try again', { retryable: true });
  }
}
