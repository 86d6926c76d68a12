/**
 * The GraphQL documents of the scenarios, for the gateway and, side by side, the equivalent ones for the PostGraphile
 * peer (amber preset over the schemas execution, data_ingestion and bench_peer; the bench_peer functions are in
 * bench-sql.ts). Each pair asks for the same data; the suite checks that both answers hold the same rows.
 * The gateway's operations are named, so its performanceSummary counts their statements per operation.
 */

export const GATEWAY = {
  /** scenario 1: one symbol and day, M1 or H1 */
  marketData: `query BenchMarketData($symbol: String!, $from: DateTime!, $to: DateTime!, $timeframe: Timeframe!, $first: Int!) {
  marketData(symbol: $symbol, from: $from, to: $to, timeframe: $timeframe, first: $first) {
    edges { cursor node { symbol timestamp open high low close volume } }
    pageInfo { hasNextPage endCursor }
  }
}`,
  /** scenario 2: the newest orders with their fills and account (the N+1 test) */
  orders: `query BenchOrders($first: Int!) {
  orders(first: $first) {
    edges {
      cursor
      node {
        orderId clientOrderId accountId symbol side type status quantity limitPrice filledQuantity averageFillPrice createdAt
        trades { tradeId quantity price executedAt }
        account { accountId name }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`,
  /** scenario 3: an account's positions valued at the latest closes */
  portfolio: `query BenchPortfolio($accountId: ID!) {
  portfolioSummary(accountId: $accountId) {
    accountId
    positions { symbol quantity averagePrice lastPrice marketValue unrealizedPnl realizedPnl }
    totalMarketValue totalUnrealizedPnl totalRealizedPnl asOf
  }
}`,
  /** scenario 4: a MARKET order, then its fill */
  submit: `mutation BenchSubmit($input: SubmitOrderInput!) { submitOrder(input: $input) { orderId status version } }`,
  fill: `mutation BenchFill($input: ExecuteTradeInput!) { executeTrade(input: $input) { tradeId quantity price } }`,
  /** scenario 5: a batch of bars */
  ingest: `mutation BenchIngest($bars: [BarInput!]!) { ingestMarketData(bars: $bars) { inserted updated } }`,
  /** statements per operation of the gateway process, for the statement counts */
  performance: `query BenchPerformance { performanceSummary { operations { service operation queryCount } } }`,
};

export const PEER = {
  /** marketData M1: bench_peer.bars(symbol, from_ts, to_ts) (PostGraphile prefixes the schema: benchPeerBars), a connection over the function's rows */
  marketData: `query PeerBars($symbol: String!, $from: Datetime!, $to: Datetime!, $first: Int!) {
  benchPeerBars(symbol: $symbol, fromTs: $from, toTs: $to, first: $first) {
    edges { cursor node { symbol timestamp open high low close volume } }
    pageInfo { hasNextPage endCursor }
  }
}`,
  /** marketData at a higher timeframe: bench_peer.bars_agg(..., step_seconds) */
  marketDataAggregated: `query PeerBarsAgg($symbol: String!, $from: Datetime!, $to: Datetime!, $step: Int!, $first: Int!) {
  benchPeerBarsAgg(symbol: $symbol, fromTs: $from, toTs: $to, stepSeconds: $step, first: $first) {
    edges { cursor node { symbol timestamp open high low close volume } }
    pageInfo { hasNextPage endCursor }
  }
}`,
  /** orders: the table's connection, newest first, with the foreign keys followed both ways */
  orders: `query PeerOrders($first: Int!) {
  allOrders(first: $first, orderBy: [CREATED_AT_DESC, ORDER_ID_DESC]) {
    edges {
      cursor
      node {
        orderId clientOrderId accountId symbol side type status quantity limitPrice filledQuantity averageFillPrice createdAt
        tradesByOrderId(orderBy: [TRADE_ID_ASC]) { nodes { tradeId quantity price executedAt } }
        accountByAccountId { accountId name }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`,
  /** portfolioSummary: bench_peer.portfolio_lines and bench_peer.portfolio_totals in one request */
  portfolio: `query PeerPortfolio($accountId: String!) {
  benchPeerPortfolioLines(accountId: $accountId) { nodes { symbol quantity averagePrice lastPrice marketValue unrealizedPnl realizedPnl } }
  benchPeerPortfolioTotals(accountId: $accountId) { totalMarketValue totalUnrealizedPnl totalRealizedPnl }
}`,
};
