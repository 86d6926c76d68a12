import { GraphQLError } from 'graphql';
import { createFormatError } from '../../src/server/format-error';
import { ConflictError, ValidationError } from '../../src/platform/errors';
import { createLogger } from '../../src/platform/logger';

const format = createFormatError(createLogger('silent'));
const formatted = (message: string) => ({ message, path: ['x'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });

describe('formatError', () => {
  it('keeps the code and details of typed errors', () => {
    const out = format(formatted('x'), new GraphQLError('x', { path: ['x'], originalError: new ConflictError('stale', { currentVersion: 3 }) }));
    expect(out).toMatchObject({ message: 'stale', extensions: { code: 'CONFLICT', currentVersion: 3 } });
    const bad = format(formatted('x'), new GraphQLError('x', { path: ['x'], originalError: ValidationError.field('quantity', 'must be > 0') }));
    expect(bad.extensions).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'quantity', message: 'must be > 0' }] });
  });

  it('masks anything unexpected: no SQL, no stack', () => {
    const leak = new Error('select secret from execution.orders where 1=1');
    const out = format(formatted(leak.message), new GraphQLError(leak.message, { path: ['x'], originalError: leak }));
    expect(out).toEqual({ message: 'Internal server error', path: ['x'], locations: undefined, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  });

  it('maps database errors by SQL state without their text', () => {
    const pgError = Object.assign(new Error('duplicate key value violates unique constraint "orders_pkey"'), { code: '23505' });
    const { DriverException } = jest.requireActual('@mikro-orm/core');
    const wrapped = new DriverException(pgError);
    const out = format(formatted('x'), new GraphQLError('x', { path: ['x'], originalError: wrapped }));
    expect(out.extensions?.code).toBe('CONFLICT');
    expect(out.message).not.toMatch(/orders_pkey/);
  });
});
