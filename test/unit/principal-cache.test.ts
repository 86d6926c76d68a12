import { PrincipalCache } from '../../src/server/principal-cache';
import type { Principal } from '../../src/modules/accounts/api-keys';

const principal = (keyId: string): Principal => ({ keyId, name: keyId, role: 'admin', accountIds: new Set() });

/** An authenticate whose answers the test releases, counting its calls. */
function lookups() {
  const calls: { resolve: (p: Principal) => void; reject: (e: Error) => void }[] = [];
  const authenticate = () => new Promise<Principal>((resolve, reject) => calls.push({ resolve, reject }));
  return { calls, authenticate };
}

describe('PrincipalCache', () => {
  it('lets requests with the same key that miss together share one lookup, then answers from memory', async () => {
    const cache = new PrincipalCache(60_000);
    const { calls, authenticate } = lookups();
    const waiting = Array.from({ length: 64 }, () => cache.get('Bearer tq_a', authenticate));
    expect(calls).toHaveLength(1);
    calls[0].resolve(principal('a'));
    expect(new Set((await Promise.all(waiting)).map((p) => p.keyId))).toEqual(new Set(['a']));
    expect((await cache.get('Bearer tq_a', authenticate)).keyId).toBe('a');
    expect(calls).toHaveLength(1);
    // another key is looked up on its own
    const other = cache.get('Bearer tq_b', authenticate);
    expect(calls).toHaveLength(2);
    calls[1].resolve(principal('b'));
    expect((await other).keyId).toBe('b');
  });

  it('keeps no failure: every waiter gets it, and the next request asks again', async () => {
    const cache = new PrincipalCache(60_000);
    const { calls, authenticate } = lookups();
    const waiting = Array.from({ length: 3 }, () => cache.get('Bearer tq_bad', authenticate));
    calls[0].reject(new Error('invalid API key'));
    for (const result of await Promise.allSettled(waiting)) expect(result).toEqual({ status: 'rejected', reason: new Error('invalid API key') });
    const again = cache.get('Bearer tq_bad', authenticate);
    expect(calls).toHaveLength(2);
    calls[1].resolve(principal('bad'));
    expect((await again).keyId).toBe('bad');
  });

  it('asks again once an entry is older than the ttl, and every time with a ttl of 0', async () => {
    const { calls, authenticate } = lookups();
    const short = new PrincipalCache(20);
    const first = short.get('Bearer tq_a', authenticate);
    calls[0].resolve(principal('a'));
    await first;
    await new Promise((r) => setTimeout(r, 30));
    const second = short.get('Bearer tq_a', authenticate);
    expect(calls).toHaveLength(2);
    calls[1].resolve(principal('a'));
    await second;

    const off = new PrincipalCache(0);
    const both = [off.get('Bearer tq_a', authenticate), off.get('Bearer tq_a', authenticate)];
    expect(calls).toHaveLength(4);
    calls[2].resolve(principal('a'));
    calls[3].resolve(principal('a'));
    await Promise.all(both);
  });
});
