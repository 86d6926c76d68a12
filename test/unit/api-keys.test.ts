/** API keys, the pure part: the key format and randomness, the hash, the Authorization header, the role rules. */
import { createHash } from 'node:crypto';
import {
  BASE62,
  canRead,
  canTrade,
  displayPrefix,
  generateKey,
  hashKey,
  isAdmin,
  isRole,
  KEY_PATTERN,
  parseBearer,
  randomBase62,
  type Principal,
} from '../../src/modules/accounts/api-keys';
import { validateNewApiKey } from '../../src/modules/accounts/api-keys.service';

describe('key generation', () => {
  it('is tq_ followed by 40 base62 characters', () => {
    for (let i = 0; i < 100; i++) {
      const key = generateKey();
      expect(key).toMatch(/^tq_[0-9A-Za-z]{40}$/);
      expect(key).toMatch(KEY_PATTERN);
    }
  });

  it('never repeats over 10,000 keys', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 10_000; i++) keys.add(generateKey());
    expect(keys.size).toBe(10_000);
  });

  it('draws every base62 character about equally often (chi-square)', () => {
    const counts = new Map<string, number>([...BASE62].map((c) => [c, 0]));
    const keys = 10_000;
    for (let i = 0; i < keys; i++) for (const c of generateKey().slice(3)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (keys * 40) / 62;
    const chi2 = [...counts.values()].reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    // 61 degrees of freedom: the 99.999th percentile is 120 (a false failure once in 100,000 runs). A modulo-biased
    // draw (byte % 62 makes 8 characters a quarter more likely) would score in the thousands.
    expect(chi2).toBeLessThan(120);
    // Each count within about 5 standard deviations (sd ≈ 79 around 6,452).
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.06);
  });

  it('rejects bytes 248-255 instead of folding them onto the first characters', () => {
    const chunks = [Buffer.from([248, 249, 250, 251, 252, 253, 254, 255, 0, 61, 62, 247])];
    const fake = (size: number) => chunks.shift() ?? Buffer.alloc(size, 1);
    // 0 → '0', 61 → 'z', 62 → '0' (62 % 62), 247 → 247 % 62 = 61 → 'z'; then the filler bytes of 1 → '1'.
    expect(randomBase62(6, fake)).toBe('0z0z11');
  });

  it('keeps only a short prefix for listings', () => {
    const key = generateKey();
    expect(displayPrefix(key)).toBe(key.slice(3, 11));
    expect(displayPrefix(key).length).toBeLessThanOrEqual(12);
  });
});

describe('hashKey', () => {
  it('is the hex SHA-256 of the whole key', () => {
    const key = 'tq_' + 'a'.repeat(40);
    expect(hashKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hashKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashKey(key)).not.toBe(hashKey('tq_' + 'a'.repeat(39) + 'b'));
  });
});

describe('parseBearer', () => {
  const key = 'tq_' + 'Ab3'.repeat(13) + 'x';

  it('accepts Bearer <key> with any case of the scheme and blanks around', () => {
    expect(parseBearer(`Bearer ${key}`)).toBe(key);
    expect(parseBearer(`bearer ${key}`)).toBe(key);
    expect(parseBearer(`BEARER ${key}`)).toBe(key);
    expect(parseBearer(`  Bearer   ${key}  `)).toBe(key);
    expect(parseBearer(`Bearer\t${key}`)).toBe(key);
    expect(parseBearer(`Bearer tq_${'a'.repeat(32)}`)).toBe(`tq_${'a'.repeat(32)}`);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['blank', '   '],
    ['no scheme', key],
    ['another scheme', `Basic ${key}`],
    ['a token with no key', 'Bearer'],
    ['no space after the scheme', `Bearer${key}`],
    ['two tokens', `Bearer ${key} ${key}`],
    ['another prefix', `Bearer tk_${'a'.repeat(40)}`],
    ['upper-case prefix', `Bearer TQ_${'a'.repeat(40)}`],
    ['too short', `Bearer tq_${'a'.repeat(31)}`],
    ['not base62', `Bearer tq_${'a'.repeat(39)}-`],
    ['a non-ASCII letter', `Bearer tq_${'a'.repeat(39)}é`],
    ['a newline inside', `Bearer tq_${'a'.repeat(20)}\n${'a'.repeat(20)}`],
  ])('rejects %s', (_label, header) => {
    expect(parseBearer(header as string | null | undefined)).toBeNull();
  });
});

describe('role rules', () => {
  const principal = (role: Principal['role'], accounts: string[]): Principal => ({ keyId: 'k', name: 'n', role, accountIds: new Set(accounts) });
  const viewer = principal('viewer', ['A']);
  const trader = principal('trader', ['A', 'B']);
  const admin = principal('admin', []);

  it('a viewer reads its accounts only and trades none', () => {
    expect(canRead(viewer, 'A')).toBe(true);
    expect(canRead(viewer, 'B')).toBe(false);
    expect(canTrade(viewer, 'A')).toBe(false);
    expect(isAdmin(viewer)).toBe(false);
  });

  it('a trader reads and trades its accounts only', () => {
    expect(canRead(trader, 'B')).toBe(true);
    expect(canTrade(trader, 'A')).toBe(true);
    expect(canTrade(trader, 'B')).toBe(true);
    expect(canRead(trader, 'C')).toBe(false);
    expect(canTrade(trader, 'C')).toBe(false);
    expect(isAdmin(trader)).toBe(false);
  });

  it('an admin reads and trades every account', () => {
    expect(isAdmin(admin)).toBe(true);
    expect(canRead(admin, 'anything')).toBe(true);
    expect(canTrade(admin, 'anything')).toBe(true);
  });

  it('knows the three roles', () => {
    expect(['viewer', 'trader', 'admin'].every(isRole)).toBe(true);
    expect(isRole('root')).toBe(false);
    expect(isRole('Admin')).toBe(false);
  });
});

describe('validateNewApiKey', () => {
  it('needs a known role, and accounts for a viewer or trader', () => {
    expect(() => validateNewApiKey({ role: 'root', accountIds: ['A'] })).toThrow(/role: must be one of viewer, trader, admin/);
    expect(() => validateNewApiKey({ role: 'trader', accountIds: [] })).toThrow(/needs at least one account/);
    expect(() => validateNewApiKey({ role: 'viewer' })).toThrow(/needs at least one account/);
    expect(() => validateNewApiKey({ role: 'viewer', accountIds: ['bad id'] })).toThrow(/accountIds/);
    expect(validateNewApiKey({ role: 'admin' })).toEqual({ role: 'admin', accountIds: [], name: 'admin key' });
  });

  it('drops repeated accounts and trims the name', () => {
    expect(validateNewApiKey({ role: 'trader', accountIds: ['A', 'B', 'A'], name: '  bot  ' })).toEqual({ role: 'trader', accountIds: ['A', 'B'], name: 'bot' });
    expect(() => validateNewApiKey({ role: 'trader', accountIds: ['A'], name: ' ' })).toThrow(/name/);
    expect(() => validateNewApiKey({ role: 'trader', accountIds: ['A'], name: 'x'.repeat(101) })).toThrow(/name/);
  });
});
