/**
 * The trade tape: fills from `tradeExecuted` (of the chart's symbol, or of every symbol), newest first. It keeps the
 * sequence of the last event it got and resumes after it on reconnect, so it misses nothing; before the first event it
 * fills in from the `trades` query instead. Rows are keyed by trade id, so nothing shows twice.
 */
import { RecentTradesDocument, TradesLiveDocument, type TradeFieldsFragment, type TradesLiveSubscription } from '../generated/graphql';
import { queryOf, request } from './api';
import { decimal, el, shortTime, status } from './format';
import type { LiveHandlers } from './live';

const MAX_ROWS = 200;

export class TapePanel {
  private lastSequence?: string;
  private readonly shown = new Set<string>();

  constructor(
    private readonly body: HTMLTableSectionElement,
    private readonly statusLine: HTMLElement,
    /** null: every symbol */
    private readonly symbol: string | null,
    private readonly apiKey: () => string,
  ) {}

  get sequence(): string | undefined {
    return this.lastSequence;
  }

  live(): LiveHandlers<TradesLiveSubscription> {
    return {
      request: () => ({ query: queryOf(TradesLiveDocument), variables: { symbol: this.symbol, afterSequence: this.lastSequence ?? null } }),
      next: ({ tradeExecuted }) => {
        if (this.lastSequence === undefined || BigInt(tradeExecuted.sequence) > BigInt(this.lastSequence)) this.lastSequence = tradeExecuted.sequence;
        this.add(tradeExecuted.trade, 'top');
      },
      failed: (message) => status(this.statusLine, `live trades: ${message}`, 'error'),
    };
  }

  /** The latest fills, below whatever arrived live already. */
  async load(): Promise<void> {
    try {
      const { trades } = await request(RecentTradesDocument, { symbol: this.symbol, first: 50 }, this.apiKey());
      for (const { node } of trades.edges) this.add(node, 'history');
      status(this.statusLine, this.shown.size ? '' : 'no trades yet');
    } catch (error) {
      status(this.statusLine, `trades: ${(error as Error).message}`, 'error');
    }
  }

  /** After a reconnect with no sequence to resume from: what the query has. */
  async catchUp(): Promise<void> {
    if (this.lastSequence === undefined) await this.load();
  }

  private add(trade: TradeFieldsFragment, where: 'top' | 'history'): void {
    if (this.shown.has(trade.tradeId)) return;
    this.shown.add(trade.tradeId);
    status(this.statusLine, '');
    const row = el(
      'tr',
      { 'data-trade-id': trade.tradeId, class: `side-${trade.side.toLowerCase()}${where === 'top' ? ' fresh' : ''}` },
      el('td', { class: 'time' }, shortTime(trade.executedAt)),
      el('td', {}, trade.symbol),
      el('td', { class: 'side' }, trade.side),
      el('td', { class: 'num' }, decimal(trade.quantity, 8)),
      el('td', { class: 'num' }, decimal(trade.price, 8)),
      el('td', { class: 'account' }, trade.accountId),
    );
    row.title = `trade ${trade.tradeId} of order ${trade.orderId}, ${trade.executedAt}`;
    // Live fills on top as they come; history (newest first, as the query returns it) below them.
    if (where === 'top') this.body.prepend(row);
    else this.body.append(row);
    while (this.body.rows.length > MAX_ROWS) {
      const last = this.body.rows[this.body.rows.length - 1];
      this.shown.delete(last.dataset.tradeId ?? '');
      last.remove();
    }
    this.body.dataset.count = String(this.body.rows.length);
  }
}
