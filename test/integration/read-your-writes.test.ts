/**
 * Read-your-writes against a replica that lags on purpose (recovery_min_apply_delay = 2 s): a client that sends back
 * the consistency token of its write sees it at once; a read without the token is served by the lagging replica.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startTestGateway, uniqueId, type TestGateway } from '../support/gateway';
import { testDatabase, waitForSchemaOnReplica } from '../support/env';
import { create as createApiKey } from '../../src/modules/accounts/api-keys.service';

const LAG_PORT = Number(process.env.TEST_LAGGING_REPLICA_PORT ?? 5434);
let gw: TestGateway;

/** Starts (or finds running) a second streaming replica that applies changes 2 s late. */
function startLaggingReplica(): void {
  execFileSync(path.join(__dirname, '..', '..', 'scripts', 'replica.sh'), ['start'], {
    stdio: 'ignore',
    env: { ...process.env, REPLICA_PORT: String(LAG_PORT), REPLICA_BASE: '/tmp/tradeql-pg-lag', REPLICA_APPLY_DELAY: '2s' },
  });
}


beforeAll(async () => {
  startLaggingReplica();
  const lagging = new URL(testDatabase().replicaUrl);
  lagging.port = String(LAG_PORT);
  await waitForSchemaOnReplica(lagging.toString());
  gw = await startTestGateway({ DATABASE_REPLICA_URLS: lagging.toString(), CONSISTENCY_WAIT_MS: '50', SYNC_ENABLED: 'false' }, { syncReads: false });
});

afterAll(async () => {
  await gw?.stop();
});

describe('read-your-writes', () => {
  it('a write followed at once by a read with its token sees the write; without the token the lagging replica does not', async () => {
    const id = uniqueId('ryw');
    const created = await gw.post(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: id, name: 'ryw' } });
    const token = created.extensions?.consistencyToken;
    expect(token).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);

    const query = `query($a: ID!) { account(accountId: $a) { name } }`;
    const withToken = await gw.post(query, { a: id }, { 'x-consistency-token': token });
    expect(withToken.data.account).toEqual({ name: 'ryw' });
    expect(withToken.extensions?.readFrom).toEqual(['primary']);

    // Another key: this one's last write would be remembered for it (the next test).
    const withoutToken = await gw.post(query, { a: id }, { authorization: `Bearer ${await gw.createKey('admin')}` });
    expect(withoutToken.data.account).toBeNull();
    expect(withoutToken.extensions?.readFrom).toEqual(['replica']);

    // Once the replica has replayed the write, the same token reads from the replica.
    await new Promise((r) => setTimeout(r, 2600));
    const later = await gw.post(query, { a: id }, { 'x-consistency-token': token });
    expect(later.data.account).toEqual({ name: 'ryw' });
    expect(later.extensions?.readFrom).toEqual(['replica']);
  });

  it('sends the token as a header too, and ignores a malformed one', async () => {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...gw.auth },
      body: JSON.stringify({ query: `mutation { createAccount(input: {accountId: "${uniqueId('ryw')}", name: "h"}) { accountId } }` }),
    });
    expect(res.headers.get('x-consistency-token')).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const junk = await gw.post(`{ latestBar(symbol: "NONE") { close } }`, undefined, { 'x-consistency-token': "'; drop table x; --" });
    expect(junk.errors).toBeUndefined();
    expect(junk.extensions?.readFrom).toEqual(['replica']);
  });

  it('remembers the token per API key: the same key reads its write without sending the token', async () => {
    const { key } = await createApiKey(gw.runtime.db, { role: 'admin', accountIds: [], name: 'ryw test' });
    const auth = { authorization: `Bearer ${key}` };
    const id = uniqueId('ryw');
    const created = await gw.post(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { accountId } }`, { i: { accountId: id, name: 'memo' } }, auth);
    expect(created.errors).toBeUndefined();
    const query = `query($a: ID!) { account(accountId: $a) { name } }`;
    const sameKey = await gw.post(query, { a: id }, auth);
    expect(sameKey.data.account).toEqual({ name: 'memo' });
    expect(sameKey.extensions?.readFrom).toEqual(['primary']);
    const anonymous = await gw.post(query, { a: id }, { authorization: `Bearer ${await gw.createKey('admin')}` });
    expect(anonymous.data.account).toBeNull();
  });

  it('refuses a presented key that is not valid with UNAUTHENTICATED and 401', async () => {
    const r = await gw.post(`{ latestBar(symbol: "NONE") { close } }`, undefined, { authorization: 'Bearer tq_notAValidKeyButWellFormed0000000000000' });
    expect(r.status).toBe(401);
    expect(r.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(r.data).toBeUndefined();
  });

  it('queries carry no token', async () => {
    const r = await gw.post(`{ latestBar(symbol: "NONE") { close } }`);
    expect(r.extensions?.consistencyToken).toBeUndefined();
  });
});
