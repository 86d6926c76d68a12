/**
 * GraphiQL's fetcher: HTTP POST for queries and mutations, graphql-ws on the same /graphql for subscriptions, both
 * with the headers of GraphiQL's header editor. The API key entered there (`Authorization: Bearer tq_…`) is sent as
 * the HTTP header, and as `connectionParams: { authorization }` of the WebSocket, which is where the gateway reads it.
 */
import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphQLError } from 'graphql';

/** The header editor's starting content: a place for the key, which is left out until it is replaced. */
export const DEFAULT_HEADERS = JSON.stringify({ Authorization: 'Bearer <paste key>' }, null, 2);

const PLACEHOLDER = /<[^>]*>/;

/**
 * Header names in lower case (HTTP does not care; the WebSocket's connectionParams are read as `authorization`);
 * an Authorization header that is empty or still holds the placeholder is left out, so that a page opened without a
 * key still loads the schema where keys are optional.
 */
export function normaliseHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    const key = name.toLowerCase();
    const text = String(value).trim();
    if (key === 'authorization' && (!text || PLACEHOLDER.test(text) || /^bearer$/i.test(text))) continue;
    out[key] = text;
  }
  return out;
}

export function createFetcher(location: Location): Fetcher {
  const url = new URL('/graphql', location.href);
  const subscriptionUrl = new URL(url.href);
  subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  // With subscriptionUrl, the toolkit opens one graphql-ws connection per subscription, its connectionParams being
  // the request's headers: so each subscription carries the key as it is in the editor when it starts.
  const inner = createGraphiQLFetcher({ url: url.href, subscriptionUrl: subscriptionUrl.href });
  return (params, options) => {
    const introspection = params.operationName === 'IntrospectionQuery';
    // GraphiQL asks for the schema as it opens, before its header editor exists, so without headers: take the ones
    // it kept (with "persist headers" on).
    const headers = normaliseHeaders(options?.headers ?? (introspection ? storedHeaders() : undefined));
    // No key, no schema: say so here rather than have the gateway refuse it (SchemaWithKey asks again with the key).
    if (introspection && !headers.authorization) return Promise.resolve({ errors: [new GraphQLError(NO_KEY)] });
    return inner(params, { ...options, headers });
  };
}

const NO_KEY = 'Every request needs an API key: put it in the Headers tab below ("Authorization": "Bearer tq_…"), and the schema loads.';

/** Whether the header editor's JSON carries a key (not the placeholder). */
export function hasKey(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return Boolean(value && typeof value === 'object' && normaliseHeaders(value as Record<string, unknown>).authorization);
  } catch {
    return false;
  }
}

/** The headers GraphiQL keeps in the page's storage when "persist headers" is on. */
function storedHeaders(): Record<string, unknown> | undefined {
  try {
    const text = localStorage.getItem('graphiql:headers');
    const value: unknown = text ? JSON.parse(text) : undefined;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
