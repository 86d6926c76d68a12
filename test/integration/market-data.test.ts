/** Market data through HTTP: ingestion (validation, upsert, partitions), pages of bars, timeframe aggregation. */
import { startTestGateway, type TestGateway } from '../support/gateway';

const INGEST = `mutation($bars: [BarInput!]!) { ingestMarketData(bars: $bars) { inserted updated } }`;
const BARS = `query($s: String!, $from: DateTime, $to: DateTime, $tf: Timeframe, $first: Int, $after: String) {
  marketData(symbol: $s, from: $from, to: $to, timeframe: $tf, first: $first, after: $after) {
    edges { cursor node { symbol timestamp open high low close volume } } pageInfo { hasNextPage endCursor } } }`;

let gw: TestGateway;
// Symbols unique to this run of this file, so parallel files and reruns never meet.
const tag = `${process.pid % 1000}${Date.now().toString(36).slice(-4)}`.toUpperCase();
const SYM = `MD${tag}`;
const GAP = `GP${tag}`;

const minute = (iso: string, plus: number) => new Date(Date.parse(iso) + plus * 60_000).toISOString();

/** A hand-made minute series: price i-th = 100 + i, so every aggregate can be computed by hand. */
function series(symbol: string, startIso: string, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    symbol,
    timestamp: minute(startIso, i),
    open: `${100 + i}.0000`,
    high: `${101 + i}.5`,
    low: `${99 + i}.25`,
    close: `${100 + i}.5`,
    volume: String(10 * (i + 1)),
  }));
}

beforeAll(async () => {
  gw = await startTestGateway();
});

afterAll(async () => {
  await gw.runtime.db.em().execute('delete from data_ingestion.market_data where symbol in (?, ?)', [SYM, GAP]);
  await gw.stop();
});

describe('ingestMarketData', () => {
  it('inserts, then updates on a second call, with exact decimals', async () => {
    const bars = series(SYM, '2026-11-02T14:30:00Z', 30);
    const first = await gw.gql(INGEST, { bars });
    expect(first.data.ingestMarketData).toEqual({ inserted: 30, updated: 0 });
    const changed = [{ ...bars[0], close: '100.1234', high: '101.5' }];
    const second = await gw.gql(INGEST, { bars: changed });
    expect(second.data.ingestMarketData).toEqual({ inserted: 0, updated: 1 });
    const r = await gw.gql(BARS, { s: SYM, first: 1 });
    expect(r.data.marketData.edges[0].node).toEqual({ symbol: SYM, timestamp: '2026-11-02T14:30:00Z', open: '100', high: '101.5', low: '99.25', close: '100.1234', volume: '10' });
    await gw.gql(INGEST, { bars: [bars[0]] });
  });

  it('stores a bar of a month with no partition in the default partition', async () => {
    const r = await gw.gql(INGEST, { bars: series(GAP, '2093-03-01T00:00:00Z', 1) });
    expect(r.data.ingestMarketData).toEqual({ inserted: 1, updated: 0 });
    const rows = await gw.runtime.db.read<{ part: string }>(
      `select tableoid::regclass::text as part from data_ingestion.market_data where symbol = ?`, [GAP], 'primary');
    expect(rows).toEqual([{ part: 'data_ingestion.market_data_default' }]);
    await gw.runtime.db.em().execute('delete from data_ingestion.market_data where symbol = ?', [GAP]);
  });

  const bad: [string, Record<string, unknown>][] = [
    ['high below close', { high: '100', close: '100.5' }],
    ['low above open', { low: '100.5' }],
    ['negative volume', { volume: '-1' }],
    ['fractional volume', { volume: '1.5' }],
    ['five decimals', { open: '100.00001' }],
    ['a zero price', { open: '0', low: '0' }],
    ['a timestamp inside a minute', { timestamp: '2026-11-02T14:30:30Z' }],
    ['a lowercase symbol', { symbol: 'abc' }],
  ];
  it.each(bad)('refuses the whole batch for %s, storing nothing', async (_name, overrides) => {
    const good = series(SYM, '2026-11-03T14:30:00Z', 1)[0];
    const r = await gw.gql(INGEST, { bars: [{ ...good, timestamp: minute('2026-11-03T14:30:00Z', 1) }, { ...good, ...overrides }] });
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0].message).toMatch(/bars\[1\]/);
    const rows = await gw.runtime.db.read(`select 1 from data_ingestion.market_data where symbol = ? and "timestamp" >= '2026-11-03'`, [SYM], 'primary');
    expect(rows).toHaveLength(0);
  });

  it('refuses a 10,000-bar batch for one bad bar in the middle, naming its index, and stores none of it', async () => {
    const bars = series(SYM, '2026-11-05T00:00:00Z', 10_000);
    bars[6_789] = { ...bars[6_789], low: bars[6_789].close + '1' };
    const r = await gw.gql(INGEST, { bars });
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0].message).toBe('invalid bars: bars[6789].low: must be <= min(open, close)');
    const rows = await gw.runtime.db.read(`select 1 from data_ingestion.market_data where symbol = ? and "timestamp" >= '2026-11-05' and "timestamp" < '2026-11-13'`, [SYM], 'primary');
    expect(rows).toHaveLength(0);
  });

  it('stores decimals with every digit the columns keep, and counts a mixed batch', async () => {
    const at = '2026-11-14T10:00:00Z';
    const exact = { symbol: SYM, timestamp: at, open: '12345678901.2345', high: '99999999999.9999', low: '0.0001', close: '00012345678901.23450', volume: '9223372036854775807' };
    expect((await gw.gql(INGEST, { bars: [exact] })).data.ingestMarketData).toEqual({ inserted: 1, updated: 0 });
    const r = await gw.gql(BARS, { s: SYM, from: at, first: 1 });
    expect(r.data.marketData.edges[0].node).toEqual({ symbol: SYM, timestamp: '2026-11-14T10:00:00Z', open: '12345678901.2345',
      high: '99999999999.9999', low: '0.0001', close: '12345678901.2345', volume: '9223372036854775807' });
    // The stored bar again (changed) and two new ones: one update, two inserts.
    const next = series(SYM, minute(at, 1), 2);
    const mixed = await gw.gql(INGEST, { bars: [next[0], { ...exact, close: '12345678901.2344' }, next[1]] });
    expect(mixed.data.ingestMarketData).toEqual({ inserted: 2, updated: 1 });
    const again = await gw.gql(BARS, { s: SYM, from: at, first: 3 });
    expect(again.data.marketData.edges.map((e: any) => e.node.close)).toEqual(['12345678901.2344', '100.5', '101.5']);
    await gw.runtime.db.em().execute(`delete from data_ingestion.market_data where symbol = ? and "timestamp" >= '2026-11-14' and "timestamp" < '2026-11-15'`, [SYM]);
  });

  it('stores two concurrent batches of the same new minutes: one inserts, the other updates every bar', async () => {
    const at = '2026-11-15T00:00:00Z';
    const first = series(SYM, at, 1_000);
    const second = first.map((b) => ({ ...b, close: '100.1', open: '100.1', high: '999', low: '1' }));
    const results = await Promise.all([gw.gql(INGEST, { bars: first }), gw.gql(INGEST, { bars: second })]);
    expect(results.map((r) => r.errors)).toEqual([undefined, undefined]);
    const counts = results.map((r) => r.data.ingestMarketData);
    expect(counts).toContainEqual({ inserted: 1_000, updated: 0 });
    expect(counts).toContainEqual({ inserted: 0, updated: 1_000 });
    // The batch that updated ran last: every stored bar is its.
    const last = counts[0].updated ? first : second;
    const rows = await gw.runtime.db.read<{ close: string }>(
      `select close::text as close from data_ingestion.market_data where symbol = ? and "timestamp" >= ? and "timestamp" < '2026-11-16' order by "timestamp"`,
      [SYM, at], 'primary');
    expect(rows.map((r) => Number(r.close))).toEqual(last.map((b) => Number(b.close)));
    await gw.runtime.db.em().execute(`delete from data_ingestion.market_data where symbol = ? and "timestamp" >= '2026-11-15' and "timestamp" < '2026-11-16'`, [SYM]);
  });

  it('refuses duplicates within a batch, an empty batch and more than 10,000 bars', async () => {
    const b = series(SYM, '2026-11-04T14:30:00Z', 1)[0];
    expect((await gw.gql(INGEST, { bars: [b, b] })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(INGEST, { bars: [] })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const many = series(SYM, '2026-11-10T00:00:00Z', 10_001);
    expect((await gw.gql(INGEST, { bars: many })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('marketData', () => {
  it('pages through 1-minute bars oldest first with no bar lost or repeated', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const r: any = await gw.gql(BARS, { s: SYM, from: '2026-11-02T14:30:00Z', to: '2026-11-02T15:00:00Z', first: 7, after });
      seen.push(...r.data.marketData.edges.map((e: any) => e.node.timestamp));
      if (!r.data.marketData.pageInfo.hasNextPage) break;
      after = r.data.marketData.pageInfo.endCursor;
    }
    expect(seen).toEqual(series(SYM, '2026-11-02T14:30:00Z', 30).map((b) => b.timestamp.replace('.000Z', 'Z')));
  });

  it('aggregates 5-minute bars: first open, max high, min low, last close, sum volume', async () => {
    const r = await gw.gql(BARS, { s: SYM, from: '2026-11-02T14:30:00Z', to: '2026-11-02T15:00:00Z', tf: 'M5' });
    const nodes = r.data.marketData.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(6);
    // bucket 14:35 holds bars 5..9: open 105, high 101.5+9 = 110.5, low 99.25+5 = 104.25, close 109.5, volume 60+70+80+90+100
    expect(nodes[1]).toEqual({ symbol: SYM, timestamp: '2026-11-02T14:35:00Z', open: '105', high: '110.5', low: '104.25', close: '109.5', volume: '400' });
    expect(nodes[0]).toMatchObject({ timestamp: '2026-11-02T14:30:00Z', open: '100', close: '104.5', volume: '150' });
  });

  it('aligns buckets to the epoch: a 15-minute bar starts at :30 and :45, an hour at the hour', async () => {
    const m15 = await gw.gql(BARS, { s: SYM, from: '2026-11-02T14:30:00Z', to: '2026-11-02T15:00:00Z', tf: 'M15' });
    expect(m15.data.marketData.edges.map((e: any) => [e.node.timestamp, e.node.volume])).toEqual([
      ['2026-11-02T14:30:00Z', String(10 * (15 * 16) / 2)],
      ['2026-11-02T14:45:00Z', String(10 * ((30 * 31) / 2 - (15 * 16) / 2))],
    ]);
    const h1 = await gw.gql(BARS, { s: SYM, from: '2026-11-02T00:00:00Z', tf: 'H1' });
    expect(h1.data.marketData.edges.map((e: any) => e.node)).toEqual([
      { symbol: SYM, timestamp: '2026-11-02T14:00:00Z', open: '100', high: '130.5', low: '99.25', close: '129.5', volume: String((10 * 30 * 31) / 2) },
    ]);
    const d1 = await gw.gql(BARS, { s: SYM, tf: 'D1' });
    expect(d1.data.marketData.edges.map((e: any) => e.node.timestamp)).toEqual(['2026-11-02T00:00:00Z']);
  });

  it('pages aggregated bars across a gap without losing or repeating one', async () => {
    // Three sessions two days apart: 10 minutes each.
    const bars = [...series(GAP, '2026-11-02T14:30:00Z', 10), ...series(GAP, '2026-11-04T14:30:00Z', 10), ...series(GAP, '2026-11-06T14:30:00Z', 10)];
    await gw.gql(INGEST, { bars });
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const r: any = await gw.gql(BARS, { s: GAP, tf: 'M5', first: 4, after });
      seen.push(...r.data.marketData.edges.map((e: any) => e.node.timestamp));
      if (!r.data.marketData.pageInfo.hasNextPage) break;
      after = r.data.marketData.pageInfo.endCursor;
    }
    expect(seen).toEqual(['2026-11-02', '2026-11-04', '2026-11-06'].flatMap((d) => [`${d}T14:30:00Z`, `${d}T14:35:00Z`]));
  });

  it('returns the latest bar, null for an unknown symbol, and an empty page for no data', async () => {
    const r = await gw.gql(`query($s: String!) { latestBar(symbol: $s) { timestamp close } none: latestBar(symbol: "NOPE${tag}") { close } }`, { s: SYM });
    expect(r.data).toEqual({ latestBar: { timestamp: '2026-11-02T14:59:00Z', close: '129.5' }, none: null });
    const empty = await gw.gql(BARS, { s: `NOPE${tag}` });
    expect(empty.data.marketData).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('refuses a bad symbol, from after to, a bad cursor and a bad date', async () => {
    expect((await gw.gql(BARS, { s: 'lower' })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(BARS, { s: SYM, from: '2026-11-03T00:00:00Z', to: '2026-11-02T00:00:00Z' })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(BARS, { s: SYM, after: 'xyz' })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(BARS, { s: SYM, from: 'yesterday' })).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});
