/** Cursors are held by clients: their encoding must never change. The old code is the reference. */
import { randomUUID } from 'node:crypto';
import { decodeCursor, encodeCursor, encodeNumberCursor, isUuid, toConnection } from '../../src/platform/pagination';

const oldEncodeCursor = (parts: string[]): string => Buffer.from(parts.join('|'), 'utf8').toString('base64url');
const oldIsUuid = (s: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

let seed = 7;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const int = (n: number) => Math.floor(rnd() * n);
const text = (n: number, alphabet: string) => Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join('');

describe('encodeCursor', () => {
  it('encodes as before: key parts, non-ASCII, lone surrogates, long parts, odd values', () => {
    const cases: unknown[][] = [
      [], [''], ['', ''], ['1764253800000'], ['1764253800123456', randomUUID()], ['1764253800123456', '123456789'],
      ['-5', '0'], ['é', '€', '𝄞'], ['\ud800', 'x\udc00'], ['x'.repeat(340)], ['x'.repeat(341)], ['€'.repeat(400)],
      ['x'.repeat(2000), 'y'], ['a', 'x'.repeat(1100)], [undefined, 'id'], [null, 1], [1.5, true],
    ];
    for (let i = 0; i < 5000; i++) {
      cases.push(Array.from({ length: 1 + int(3) }, () => text(int(i % 100 === 0 ? 600 : 60), '0123456789abcdef-|é€\ud83d\ude00\ud800')));
    }
    for (const parts of cases) expect(encodeCursor(parts as string[])).toBe(oldEncodeCursor(parts as string[]));
  });

  it('round-trips through decodeCursor', () => {
    const parts = ['1764253800123456', randomUUID()];
    expect(decodeCursor(encodeCursor(parts), 2, () => true)).toEqual(parts);
  });
});

describe('encodeNumberCursor', () => {
  it('encodes as encodeCursor([String(n)]) did', () => {
    const numbers = [0, -0, 1, 9, 10, 99, 100, -1, -10, 1764253800000, -62198755200000, Date.UTC(1800, 0, 1), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER,
      2 ** 53, 1e21, 1.5, -0.25, Number.NaN, Infinity, -Infinity];
    for (let i = 0; i < 5000; i++) numbers.push(Math.floor((rnd() - 0.3) * 10 ** int(17)));
    for (const n of numbers) expect([n, encodeNumberCursor(n)]).toEqual([n, oldEncodeCursor([String(n)])]);
  });
});

describe('toConnection', () => {
  it('pages as before: at most `size` edges, whether more follow, the last cursor', () => {
    const old = <T>(rows: T[], size: number, cursorOf: (row: T) => string) => {
      const page = rows.length > size ? rows.slice(0, size) : rows;
      const edges = page.map((node) => ({ cursor: cursorOf(node), node }));
      return { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.length ? edges[edges.length - 1].cursor : null } };
    };
    for (const count of [0, 1, 2, 3, 4]) {
      for (const size of [1, 2, 3]) {
        const rows = Array.from({ length: count }, (_, i) => ({ id: i }));
        expect(toConnection(rows, size, (r) => `c${r.id}`)).toEqual(old(rows, size, (r) => `c${r.id}`));
      }
    }
  });
});

describe('isUuid', () => {
  it('accepts what the regular expression accepted, and nothing else', () => {
    const cases = ['', 'not-a-uuid', '00000000-0000-0000-0000-000000000000', 'ABCDEF01-abcd-ABCD-abcd-0123456789AB', ' 00000000-0000-0000-0000-000000000000'];
    for (let i = 0; i < 2000; i++) {
      const id = randomUUID();
      const at = int(36);
      cases.push(id, id.toUpperCase(), `${id}\n`, id.slice(1), id.slice(0, at) + text(1, 'gG-:0aAfF@`{/\u212a') + id.slice(at + 1));
    }
    for (const s of cases) expect([s, isUuid(s)]).toEqual([s, oldIsUuid(s)]);
  });
});
