/** GraphiQL, served at GET /graphql to browsers: bundled from the installed packages, nothing loaded from outside. */
import 'graphiql/style.css';
import './graphiql.css';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { setupMonacoWorkers } from './workers';
import { DEFAULT_HEADERS, createFetcher } from './fetcher';
import { SchemaWithKey } from './schema-with-key';

// Before GraphiQL loads Monaco.
setupMonacoWorkers();

const DEFAULT_QUERY = `# tradeql: queries and mutations go over HTTP, subscriptions over graphql-ws on the same /graphql.
# Put your API key in the Headers tab below ("Authorization": "Bearer tq_...").
# The Docs button (top left) lists every type and field.

query LatestBars {
  latestBar(symbol: "AAPL") { timestamp close }
  marketData(symbol: "AAPL", timeframe: M5, first: 5) {
    edges { node { timestamp open high low close volume } }
  }
}

subscription LiveTrades {
  tradeExecuted { sequence trade { tradeId symbol side quantity price executedAt } }
}
`;

// A link may carry a query to open with: /graphql?query=...&variables=...
const params = new URLSearchParams(location.search);
const root = document.getElementById('graphiql');
if (!root) throw new Error('no #graphiql element');

createRoot(root).render(
  <GraphiQL
    fetcher={createFetcher(location)}
    defaultQuery={DEFAULT_QUERY}
    defaultHeaders={DEFAULT_HEADERS}
    initialQuery={params.get('query') ?? undefined}
    initialVariables={params.get('variables') ?? undefined}
    isHeadersEditorEnabled
    defaultEditorToolsVisibility="headers"
    showPersistHeadersSettings
  >
    <SchemaWithKey />
  </GraphiQL>,
);
