/**
 * The embedded default's demo keys: an admin key and a trader key for the first demo account, new at every start
 * (only hashes are stored, so a key cannot be shown again), the previous demo keys revoked.
 */
import type { Database } from '../../platform/database';
import { create } from '../accounts/api-keys.service';

export const DEMO_KEY_NAMES = { admin: 'demo admin', trader: 'demo trader' } as const;
export const DEMO_TRADER_ACCOUNT = 'DEMO-1';

export interface DemoKeys {
  admin: string;
  trader: string;
  traderAccount: string;
}

export async function createDemoKeys(db: Database): Promise<DemoKeys> {
  await db.em().execute(
    `update execution.api_keys set revoked_at = now() where name in (?, ?) and revoked_at is null`,
    [DEMO_KEY_NAMES.admin, DEMO_KEY_NAMES.trader],
    'run',
  );
  const admin = await create(db, { role: 'admin', name: DEMO_KEY_NAMES.admin });
  const trader = await create(db, { role: 'trader', accountIds: [DEMO_TRADER_ACCOUNT], name: DEMO_KEY_NAMES.trader });
  return { admin: admin.key, trader: trader.key, traderAccount: DEMO_TRADER_ACCOUNT };
}
