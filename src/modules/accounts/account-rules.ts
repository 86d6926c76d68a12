/** Account input rules (pure). */
import { ValidationError } from '../../platform/errors';

export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function validateAccountId(accountId: string, field = 'accountId'): void {
  if (!ACCOUNT_ID_PATTERN.test(accountId)) throw ValidationError.field(field, 'must be 1-64 of A-Z a-z 0-9 _ . : -');
}

export function validateNewAccount(input: { accountId: string; name: string }): { accountId: string; name: string } {
  validateAccountId(input.accountId);
  const name = input.name.trim();
  if (name.length < 1 || name.length > 200) throw ValidationError.field('name', 'must be 1-200 characters');
  return { accountId: input.accountId, name };
}
