/** Accounts: creation and batched lookups. */
import type { Scope } from '../../platform/scope';
import { ConflictError } from '../../platform/errors';
import { categorize } from '../../platform/db-errors';
import { writeAudit } from '../../platform/audit';
import { inTransaction } from '../../platform/transaction';
import { toPgArray } from '../../platform/pg-array';
import { AccountEntity } from './account.entity';
import { validateAccountId, validateNewAccount } from './account-rules';

export interface AccountRow {
  accountId: string;
  name: string;
  createdAt: string | Date;
}

export class AccountsService {
  async create(scope: Scope, input: { accountId: string; name: string }): Promise<AccountRow> {
    const data = validateNewAccount(input);
    try {
      const account = await inTransaction(scope.db.em(), async (tx) => {
        const entity = tx.create(AccountEntity, data);
        await tx.flush();
        await writeAudit(tx, scope.access, { operation: 'createAccount', table: 'execution.accounts', recordIds: [data.accountId], result: 'ok' });
        return entity;
      }, { access: scope.access });
      scope.reads.preferPrimary();
      return account;
    } catch (error) {
      if (categorize(error) === 'unique') throw new ConflictError(`account ${data.accountId} already exists`, { accountId: data.accountId });
      throw error;
    }
  }

  async byId(scope: Scope, accountId: string): Promise<AccountRow | null> {
    validateAccountId(accountId);
    return (await this.byIds(scope, [accountId])).get(accountId) ?? null;
  }

  async byIds(scope: Scope, accountIds: readonly string[]): Promise<Map<string, AccountRow>> {
    const rows = await scope.reads.all<AccountRow>(
      `select account_id as "accountId", name, created_at as "createdAt" from execution.accounts where account_id = any(?::text[])`,
      [toPgArray(accountIds)],
    );
    return new Map(rows.map((r) => [r.accountId, r]));
  }
}
