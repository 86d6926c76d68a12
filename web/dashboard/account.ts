/**
 * An account's orders, positions and PnL: loaded with one query, then kept current by `orderUpdated` (resumed with
 * afterSequence) and `positionUpdated` (no sequence: the positions are read again after a reconnect). A change is
 * applied only if its version is not older than the one shown. The portfolio totals are asked for again (debounced)
 * after a position changes or the price moves, since the gateway computes them exactly.
 */
import {
  AccountOverviewDocument,
  OrdersLiveDocument,
  PortfolioTotalsDocument,
  PositionsLiveDocument,
  type OrderFieldsFragment,
  type OrdersLiveSubscription,
  type PortfolioTotalsQuery,
  type PositionFieldsFragment,
  type PositionsLiveSubscription,
} from '../generated/graphql';
import { queryOf, request } from './api';
import { decimal, el, shortTime, sign, status } from './format';
import type { LiveHandlers } from './live';

const ORDERS_SHOWN = 50;

export class AccountPanel {
  private readonly orders = new Map<string, OrderFieldsFragment>();
  private readonly positions = new Map<string, PositionFieldsFragment>();
  private lastOrderSequence?: string;
  private totalsTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly nodes: {
      name: HTMLElement;
      status: HTMLElement;
      totals: { marketValue: HTMLElement; unrealized: HTMLElement; realized: HTMLElement };
      positions: HTMLTableSectionElement;
      orders: HTMLTableSectionElement;
    },
    private readonly accountId: string,
    private readonly apiKey: () => string,
  ) {}

  ordersLive(): LiveHandlers<OrdersLiveSubscription> {
    return {
      request: () => ({ query: queryOf(OrdersLiveDocument), variables: { accountId: this.accountId, afterSequence: this.lastOrderSequence ?? null } }),
      next: ({ orderUpdated }) => {
        if (this.lastOrderSequence === undefined || BigInt(orderUpdated.sequence) > BigInt(this.lastOrderSequence)) this.lastOrderSequence = orderUpdated.sequence;
        this.putOrder(orderUpdated.order);
        this.renderOrders();
      },
      failed: (message) => status(this.nodes.status, `live orders: ${message}`, 'error'),
    };
  }

  positionsLive(): LiveHandlers<PositionsLiveSubscription> {
    return {
      request: () => ({ query: queryOf(PositionsLiveDocument), variables: { accountId: this.accountId } }),
      next: ({ positionUpdated }) => {
        this.putPosition(positionUpdated);
        this.renderPositions();
        this.refreshTotals();
      },
      failed: (message) => status(this.nodes.status, `live positions: ${message}`, 'error'),
    };
  }

  async load(): Promise<void> {
    status(this.nodes.status, 'loading…');
    try {
      const data = await request(AccountOverviewDocument, { accountId: this.accountId, first: ORDERS_SHOWN }, this.apiKey());
      if (!data.account) {
        status(this.nodes.status, `no account ${this.accountId}`, 'error');
        return;
      }
      this.nodes.name.textContent = `${data.account.accountId} · ${data.account.name}`;
      for (const { node } of data.orders.edges) this.putOrder(node);
      for (const position of data.positions) this.putPosition(position);
      this.renderOrders();
      this.renderPositions();
      this.renderTotals(data.portfolioSummary);
      status(this.nodes.status, '');
    } catch (error) {
      status(this.nodes.status, (error as Error).message, 'error');
    }
  }

  /** After a reconnect: positions have no afterSequence, and orders none before their first event. */
  async catchUp(): Promise<void> {
    await this.load();
  }

  /** The price moved: unrealized PnL did too. */
  priceMoved(): void {
    if (this.positions.size) this.refreshTotals();
  }

  private putOrder(order: OrderFieldsFragment): void {
    const shown = this.orders.get(order.orderId);
    if (shown && shown.version > order.version) return;
    this.orders.set(order.orderId, order);
  }

  private putPosition(position: PositionFieldsFragment): void {
    const shown = this.positions.get(position.symbol);
    if (shown && shown.version > position.version) return;
    this.positions.set(position.symbol, position);
  }

  private refreshTotals(): void {
    if (this.totalsTimer) return;
    this.totalsTimer = setTimeout(async () => {
      this.totalsTimer = undefined;
      try {
        const { portfolioSummary } = await request(PortfolioTotalsDocument, { accountId: this.accountId }, this.apiKey());
        // The positions' valuation moves with the price; their quantities and versions come from the events.
        for (const line of portfolioSummary.positions) {
          const shown = this.positions.get(line.symbol);
          if (shown) this.positions.set(line.symbol, { ...shown, marketValue: line.marketValue, unrealizedPnl: line.unrealizedPnl });
        }
        this.renderPositions();
        this.renderTotals(portfolioSummary);
      } catch (error) {
        status(this.nodes.status, `PnL: ${(error as Error).message}`, 'error');
      }
    }, 500);
  }

  private renderTotals(summary: Omit<PortfolioTotalsQuery['portfolioSummary'], 'positions'>): void {
    const { marketValue, unrealized, realized } = this.nodes.totals;
    const put = (node: HTMLElement, value: string) => {
      node.textContent = decimal(value, 2);
      node.dataset.sign = String(sign(value));
    };
    put(marketValue, summary.totalMarketValue);
    put(unrealized, summary.totalUnrealizedPnl);
    put(realized, summary.totalRealizedPnl);
  }

  private renderPositions(): void {
    const rows = [...this.positions.values()]
      .sort((a, b) => a.symbol.localeCompare(b.symbol))
      .map((p) =>
        el(
          'tr',
          { 'data-symbol': p.symbol, class: sign(p.quantity) === 0 ? 'flat' : '' },
          el('td', {}, p.symbol),
          el('td', { class: 'num' }, decimal(p.quantity, 8)),
          el('td', { class: 'num' }, decimal(p.averagePrice, 4)),
          el('td', { class: 'num', 'data-sign': String(sign(p.unrealizedPnl)) }, decimal(p.unrealizedPnl, 2)),
          el('td', { class: 'num', 'data-sign': String(sign(p.realizedPnl)) }, decimal(p.realizedPnl, 2)),
        ),
      );
    this.nodes.positions.replaceChildren(...rows);
    this.nodes.positions.dataset.count = String(rows.length);
  }

  private renderOrders(): void {
    const rows = [...this.orders.values()]
      .sort((a, b) => (a.createdAt === b.createdAt ? b.orderId.localeCompare(a.orderId) : b.createdAt.localeCompare(a.createdAt)))
      .slice(0, ORDERS_SHOWN)
      .map((o) =>
        el(
          'tr',
          { 'data-order-id': o.orderId, 'data-status': o.status, class: `side-${o.side.toLowerCase()}` },
          el('td', { class: 'time' }, shortTime(o.updatedAt)),
          el('td', {}, o.symbol),
          el('td', { class: 'side' }, o.side),
          el('td', {}, o.type === 'MARKET' ? 'MKT' : o.type === 'LIMIT' ? `LMT ${decimal(o.limitPrice, 4)}` : o.type),
          el('td', { class: 'num' }, `${decimal(o.filledQuantity, 8)} / ${decimal(o.quantity, 8)}`),
          el('td', { class: 'num' }, decimal(o.averageFillPrice, 4)),
          el('td', { class: 'status', title: o.status }, o.status === 'PARTIALLY_FILLED' ? 'PARTIAL' : o.status),
        ),
      );
    this.nodes.orders.replaceChildren(...rows);
    this.nodes.orders.dataset.count = String(rows.length);
  }
}
