/**
 * Parameters inlined into the reads under row-level security: the text MikroORM's formatQuery gave (the reference,
 * from a platform configured as the gateway's), and literals no value can break out of.
 */
import { Configuration } from '@mikro-orm/core';
import type { AbstractSqlPlatform } from '@mikro-orm/knex';
import { ormOptions } from '../../src/platform/orm';
import { accessParams, accessRead, inlineParams, withAccess, type DbAccess } from '../../src/platform/db-access';
import { toPgArray } from '../../src/platform/pg-array';

const platform = new Configuration(ormOptions({
  databaseUrl: 'postgres://nobody@127.0.0.1:1/none', replicaUrls: [], entities: [], poolSize: 1, poolOverflow: 0,
  acquireTimeoutMs: 1000, recycleMs: 60_000, statementTimeoutMs: 1000, replicaConnectTimeoutMs: 1000,
}), false).getPlatform() as AbstractSqlPlatform;

const reference = (sql: string, params: unknown[]) => platform.formatQuery(sql, params);
const inline = (sql: string, params: unknown[]) => inlineParams(sql, params, platform);
/** The text, or the error (`??` with a value that is no identifier fails in MikroORM, and so here). */
const attempt = (f: () => string): string => {
  try {
    return f();
  } catch (error) {
    return `throws ${(error as Error).constructor.name}: ${(error as Error).message}`;
  }
};

let seed = 11;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const text = (n: number) => Array.from({ length: n }, () => pick(["'", "''", '\\', '\\\\', '?', '??', '"', '\0', 'a', 'é', '😀', '\ud800', ' ', ';', '-', '\n', '$1', 'E', '{', '}', ','])).join('');

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Every kind of value the repositories pass, and their edge cases. */
const VALUES: unknown[] = [
  '', 'a', "it's", "''", "'; drop table execution.orders; --", 'back\\slash', '\\', "\\'", "'\\", 'a?b', '?', '??', '\\?', '$1', 'nul\0byte', 'é€😀', '\ud800',
  toPgArray([uuid(1), uuid(2)]), toPgArray(['a"b', 'c\\d', "e'f"]), toPgArray([]), 'AAPL', 'BUY',
  0, -0, 1, -1, 100, 1001, 1.5, -2.25, 1e21, Number.MAX_SAFE_INTEGER, Number.NaN, Infinity, -Infinity,
  true, false, null, undefined,
  new Date(0), new Date(Date.UTC(2026, 10, 27, 14, 30, 0, 123)), new Date(Date.UTC(999, 0, 1)), new Date(-62198755200000), new Date(8.64e15),
  // never passed by reads: MikroORM formats them
  10n, [1, 'a'], { a: "b'c" }, Buffer.from('x'),
];

const SQLS = [
  'select 1', 'select ?', '?', '? ', ' ?', 'select ?, ?', 'select ?::text[] as a, ? as b limit ?',
  `select * from execution.trades t where t.order_id = any(?::uuid[]) order by t.order_id, t.trade_id`,
  'select ? ?? ?', 'select \\? , ?', '??', 'select ?,?,?,?,?', "select '?' , ?", 'select $1, ?',
];

describe('inlineParams', () => {
  it('gives MikroORM\'s text for every value the reads pass, and the rest', () => {
    for (const value of VALUES) {
      for (const sql of ['select ?', 'x = ? and y = ?', '?']) {
        expect([sql, value, inline(sql, [value, value])]).toEqual([sql, value, reference(sql, [value, value])]);
      }
    }
  });

  it('gives MikroORM\'s text for generated statements and parameters, also with too few or too many of them', () => {
    for (let i = 0; i < 5000; i++) {
      const sql = pick(SQLS);
      const params = Array.from({ length: int(7) }, () => (rnd() < 0.4 ? text(int(12)) : pick(VALUES)));
      expect([sql, params, attempt(() => inline(sql, params))]).toEqual([sql, params, attempt(() => reference(sql, params))]);
    }
  });

  it('throws what MikroORM threw for an invalid Date', () => {
    expect(() => reference('select ?', [new Date(Number.NaN)])).toThrow(RangeError);
    expect(() => inline('select ?', [new Date(Number.NaN)])).toThrow(RangeError);
  });

  it('quotes strings so that nothing breaks out of the literal', () => {
    const strings = [...VALUES.filter((v): v is string => typeof v === 'string'), ...Array.from({ length: 3000 }, () => text(int(20)))];
    for (const s of strings) {
      const sql = inline('select ? as v', [s]);
      expect(sql.startsWith('select ')).toBe(true);
      expect(sql.endsWith(' as v')).toBe(true);
      // the whole literal reads back as the string itself, so it ends where the parameter ended
      expect(readLiteral(sql.slice('select '.length, -' as v'.length))).toBe(s);
    }
    expect(inline('select ?', ["it's"])).toBe("select 'it''s'");
    expect(inline('select ?', ['back\\slash'])).toBe("select  E'back\\\\slash'");
    expect(inline('select ?, ?', ['a?b', 'c'])).toBe("select 'a?b', 'c'");
    expect(inline('select ?', ['nul\0byte'])).toBe("select 'nul\0byte'");
  });

  it('writes Dates as ISO text in UTC, numbers, booleans and null as SQL', () => {
    expect(inline('select ?, ?, ?, ?, ?, ?', [new Date(Date.UTC(999, 0, 1, 0, 0, 0, 5)), 42, -1.5, true, null, undefined]))
      .toBe("select '0999-01-01T00:00:00.005Z', 42, -1.5, true, NULL, NULL");
  });
});

describe('accessRead', () => {
  const keys: DbAccess[] = [
    { keyId: 'k1', role: 'viewer', accountIds: ['ACC-1'], bypass: false, statementTimeoutMs: 5000 },
    { keyId: 'k2', role: 'trader', accountIds: [], bypass: false, statementTimeoutMs: 1 },
    { keyId: 'k3', role: 'admin', accountIds: ["O'Brien", 'back\\slash', 'q"uote'], bypass: true, statementTimeoutMs: 30000 },
  ];

  it('is the prelude and the read as MikroORM formatted withAccess(sql) with the key\'s parameters first', () => {
    for (const access of keys) {
      for (let i = 0; i < 500; i++) {
        const sql = pick(SQLS);
        const params = Array.from({ length: int(5) }, () => (rnd() < 0.4 ? text(int(12)) : pick(VALUES)));
        expect(attempt(() => accessRead(sql, params, access, platform))).toBe(attempt(() => reference(withAccess(sql), [...accessParams(access), ...params])));
      }
    }
  });
});

/** Reads one PostgreSQL string constant ('...' or E'...', standard_conforming_strings on) that must span all of `sql`. */
function readLiteral(sql: string): string {
  let s = sql.trimStart();
  const escapes = s.startsWith("E'");
  if (escapes) s = s.slice(1);
  if (!s.startsWith("'")) throw new Error(`not a literal: ${sql}`);
  let out = '';
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (escapes && c === '\\') {
      // escapeLiteral only ever writes a doubled backslash
      if (s[i + 1] !== '\\') throw new Error(`unexpected escape in ${sql}`);
      out += '\\';
      i++;
    } else if (c === "'") {
      if (s[i + 1] === "'") {
        out += "'";
        i++;
      } else if (i === s.length - 1) {
        return out;
      } else {
        throw new Error(`the literal ends before the text does: ${sql}`);
      }
    } else {
      out += c;
    }
  }
  throw new Error(`unterminated literal: ${sql}`);
}
