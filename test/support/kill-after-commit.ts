/**
 * A gateway process that dies right after a commit, before its relay can publish: it fills an order through the
 * real service, and the post-commit wake-up of the relay is replaced by SIGKILL. Run: node -r tsx/cjs <this> <orderId> <price>
 */
import { loadConfig } from '../../src/config';
import { openDatabase } from '../../src/app';
import { createLogger } from '../../src/platform/logger';
import { ReadSession } from '../../src/platform/read-session';
import { createServices } from '../../src/modules';

async function main(): Promise<void> {
  const [orderId, price] = process.argv.slice(2);
  const config = loadConfig();
  const log = createLogger('silent');
  const runtime = await openDatabase(config, log);
  const scope = { db: runtime.db, reads: new ReadSession(runtime.db, 'primary'), log, outbox: { wake: () => process.kill(process.pid, 'SIGKILL') } };
  await createServices().orders.executeTrade(scope, { orderId, price });
  process.stderr.write('still alive after the commit: the wake-up did not run\n');
  process.exit(3);
}

void main();
