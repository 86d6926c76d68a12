/**
 * Before measuring: every system answers each scenario's request alike (the baselines do the same work), the writes
 * and ingestion succeed once on each, and the nested orders query's statement count does not grow with the page size.
 */
import type { Request as CannonRequest } from 'autocannon';
import { BenchError, progress } from './lifecycle';
import { requestsFor, setSequence, type ResponseTally, type ScenarioName, type ScenarioParams, type SystemName } from './scenarios';
import { gatewayOperationCounts, type Sut } from './measure';

async function send(sut: Sut, req: CannonRequest): Promise<{ status: number; text: string }> {
  const res = await fetch(`${sut.server.baseUrl}${req.path}`, {
    method: 'POST', headers: req.headers as Record<string, string>, body: req.body as string, signal: AbortSignal.timeout(60_000),
  });
  return { status: res.status, text: await res.text() };
}

/** Sends the scenario's request(s) once, in order, as autocannon would (context, hooks); returns the last answer. */
async function once(sut: Sut, scenario: ScenarioName, params: ScenarioParams, sequence: number): Promise<{ body: any; tally: ResponseTally }> {
  const tally: ResponseTally = { ok: 0, errorCodes: {}, pairs: 0, bars: 0 };
  setSequence(sequence);
  const requests = requestsFor({ scenario, system: sut.system, baseUrl: sut.server.baseUrl, authorization: sut.authorization, connections: 1, durationS: 1, params }, tally);
  const context: Record<string, unknown> = {};
  let body: any;
  for (const r of requests) {
    const req = typeof r.setupRequest === 'function' ? r.setupRequest({ ...r }, context) : r;
    if (!req) throw new BenchError(`${scenario} on ${sut.system}: a request could not be built (an earlier one failed: ${JSON.stringify(body).slice(0, 300)})`);
    const { status, text } = await send(sut, req);
    if (typeof r.onResponse === 'function') r.onResponse(status, text, context, {} as never);
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { body, tally };
}

const dec = (x: unknown) => (x === null || x === undefined ? null : String(x).includes('.') ? String(x).replace(/0+$/, '').replace(/\.$/, '') : String(x));
const ms = (x: string) => Date.parse(x);

/** The rows of an answer, reduced to what every system must agree on. */
function essence(scenario: ScenarioName, system: SystemName, body: any): unknown {
  const d = body?.data;
  if (!d) return { errors: body?.errors ?? body };
  switch (scenario) {
    case 'md-m1':
    case 'md-h1': {
      const conn = system === 'peer' ? (d.benchPeerBars ?? d.benchPeerBarsAgg) : d.marketData;
      return conn.edges.map((e: any) => [e.node.symbol, ms(e.node.timestamp), dec(e.node.open), dec(e.node.high), dec(e.node.low), dec(e.node.close), dec(e.node.volume)]);
    }
    case 'orders': {
      const conn = system === 'peer' ? d.allOrders : d.orders;
      return conn.edges.map((e: any) => {
        const n = e.node;
        const trades = system === 'peer' ? n.tradesByOrderId.nodes : n.trades;
        const account = system === 'peer' ? n.accountByAccountId : n.account;
        return [n.orderId, n.status, dec(n.filledQuantity), dec(n.averageFillPrice), ms(n.createdAt), account.name,
          trades.map((t: any) => [String(t.tradeId), dec(t.quantity), dec(t.price), ms(t.executedAt)])];
      });
    }
    case 'portfolio': {
      const lines = system === 'peer' ? d.benchPeerPortfolioLines.nodes : d.portfolioSummary.positions;
      const totals = system === 'peer' ? d.benchPeerPortfolioTotals : d.portfolioSummary;
      return [lines.map((l: any) => [l.symbol, dec(l.quantity), dec(l.averagePrice), dec(l.lastPrice), dec(l.marketValue), dec(l.unrealizedPnl), dec(l.realizedPnl)]),
        dec(totals.totalMarketValue), dec(totals.totalUnrealizedPnl), dec(totals.totalRealizedPnl)];
    }
    default:
      return d;
  }
}

/** Without the parts that differ by design: the time of a summary, the gateway's response extensions. */
function comparable(body: any): string {
  return JSON.stringify(body, (key, value) => (key === 'asOf' || key === 'extensions' ? undefined : value));
}

export interface CheckReport {
  reads: Record<string, Record<string, { rows: number; sameJsonAsGateway?: boolean; sameRowsAsGateway: boolean }>>;
  writes: Record<string, Record<string, { ok: boolean; errors?: Record<string, number> }>>;
  /** orders(first: N) with trades and account: statements per request */
  statementsByPageSize: Record<string, Record<string, number | string>>;
  problems: string[];
}

export async function runChecks(suts: Map<SystemName, Sut>, params: ScenarioParams, scenarios: ScenarioName[]): Promise<CheckReport> {
  const report: CheckReport = { reads: {}, writes: {}, statementsByPageSize: {}, problems: [] };
  const gw = suts.get('gateway')!;
  for (const scenario of ['md-m1', 'md-h1', 'orders', 'portfolio'] as ScenarioName[]) {
    if (!scenarios.includes(scenario)) continue;
    const ref = await once(gw, scenario, params, 0);
    const refEssence = JSON.stringify(essence(scenario, 'gateway', ref.body));
    const rows = (e: string) => (JSON.parse(e) as unknown[]).length;
    if (ref.tally.ok !== 1) report.problems.push(`${scenario}: the gateway answered with errors: ${JSON.stringify(ref.body).slice(0, 300)}`);
    report.reads[scenario] = { gateway: { rows: scenario === 'portfolio' ? (JSON.parse(refEssence)[0]?.length ?? 0) : rows(refEssence), sameRowsAsGateway: true } };
    for (const system of ['limit', 'peer'] as SystemName[]) {
      const sut = suts.get(system);
      if (!sut) continue;
      const got = await once(sut, scenario, params, 0);
      const e = JSON.stringify(essence(scenario, system, got.body));
      const entry: CheckReport['reads'][string][string] = {
        rows: scenario === 'portfolio' ? (JSON.parse(e)[0]?.length ?? 0) : Array.isArray(JSON.parse(e)) ? rows(e) : 0,
        sameRowsAsGateway: e === refEssence,
      };
      if (system === 'limit') entry.sameJsonAsGateway = comparable(got.body) === comparable(ref.body);
      report.reads[scenario][system] = entry;
      if (!entry.sameRowsAsGateway) report.problems.push(`${scenario}: ${system} answers other rows than the gateway: ${e.slice(0, 200)} vs ${refEssence.slice(0, 200)}`);
      else if (entry.sameJsonAsGateway === false) report.problems.push(`${scenario}: ${system} has the gateway's rows but not its exact JSON`);
    }
    const summary = Object.entries(report.reads[scenario]).map(([s, r]) => `${s} ${r.rows} rows${r.sameRowsAsGateway ? '' : ' DIFFERENT'}${r.sameJsonAsGateway ? ' (same JSON)' : ''}`);
    progress(`check ${scenario}: ${summary.join(', ')}`);
  }
  for (const scenario of ['write-distinct', 'write-hot', 'ingest-1k', 'ingest-10k'] as ScenarioName[]) {
    if (!scenarios.includes(scenario)) continue;
    report.writes[scenario] = {};
    const systems: SystemName[] = scenario.startsWith('write') ? ['gateway', 'raw', 'fn'] : ['gateway', 'copy'];
    for (const system of systems) {
      const sut = suts.get(system);
      if (!sut) continue;
      const { tally, body } = await once(sut, scenario, params, 1_000_000 + 10 * ['write-distinct', 'write-hot', 'ingest-1k', 'ingest-10k'].indexOf(scenario) + systems.indexOf(system));
      const ok = scenario.startsWith('write') ? tally.pairs === 1 : tally.bars > 0;
      report.writes[scenario][system] = { ok, ...(Object.keys(tally.errorCodes).length ? { errors: tally.errorCodes } : {}) };
      if (!ok) report.problems.push(`${scenario}: ${system} failed: ${JSON.stringify(body).slice(0, 300)}`);
    }
    progress(`check ${scenario}: ${Object.entries(report.writes[scenario]).map(([s, r]) => `${s} ${r.ok ? 'ok' : 'FAILED'}`).join(', ')}`);
  }
  if (scenarios.includes('orders')) {
    for (const first of [10, 100, 300, 1000]) {
      report.statementsByPageSize[String(first)] = {};
      for (const [system, sut] of suts) {
        if (!['gateway', 'limit', 'peer'].includes(system)) continue;
        const n = 3;
        const count = async () => (system === 'gateway' ? (await gatewayOperationCounts(sut)).get('BenchOrders') ?? 0 : (await sut.server.counters()).statements);
        const before = await count();
        let refused: string | undefined;
        for (let i = 0; i < n; i++) {
          const { tally } = await once(sut, 'orders', { ...params, ordersFirst: first }, 0);
          if (!tally.ok) refused = Object.keys(tally.errorCodes).join(',');
        }
        const after = await count();
        report.statementsByPageSize[String(first)][system] = refused ? `refused: ${refused}` : Math.round(((after - before) / n) * 100) / 100;
      }
    }
    progress(`check orders statements per request by page size: ${Object.entries(report.statementsByPageSize)
      .map(([first, s]) => `first ${first}: ${Object.entries(s).map(([k, v]) => `${k} ${v}`).join(' / ')}`).join('; ')}`);
  }
  return report;
}
