/**
 * /graphql over HTTP on node:http's request and response, straight into Apollo's executeHTTPGraphQLRequest.
 *
 * Every API call is a POST to /graphql, and Express's app, router and response helpers cost about 0.1 ms of CPU
 * per request (bench/README.md) while adding nothing here. The HTTP server hands POST /graphql to this handler
 * directly. Every other request goes to Express, which mounts the same steps for /graphql (GET queries, CORS
 * preflights) behind its own routes (GraphiQL, health, metrics).
 *
 * The steps are connect-style middleware that need nothing of Express: the security headers, draining, CORS and the
 * JSON body parser (the same packages, limit and errors as before), then the request's context.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';

export type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

export interface GraphqlHttpOptions<TContext extends BaseContext> {
  apollo: ApolloServer<TContext>;
  /** run in order before Apollo; each calls next() to go on, or answers the request itself */
  steps: NodeMiddleware[];
  context: (req: IncomingMessage, res: ServerResponse) => Promise<TContext>;
  /** answers a step's error (or an unexpected one) */
  onError: (error: unknown, res: ServerResponse) => void;
}

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The path of POST requests the HTTP server gives to the handler itself; other spellings still reach it through Express. */
export function isGraphqlPost(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  return url === '/graphql' || url.startsWith('/graphql?');
}

export function graphqlHttpHandler<TContext extends BaseContext>(options: GraphqlHttpOptions<TContext>): NodeHandler {
  const { apollo, steps, context, onError } = options;

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const headers = new HeaderMap();
    for (const key in req.headers) {
      const value = req.headers[key];
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: (req.method ?? 'GET').toUpperCase(),
        headers,
        search: query < 0 ? '' : url.slice(query),
        // Set by the JSON body parser (undefined when the body is not JSON: Apollo answers 400).
        body: (req as { body?: unknown }).body,
      },
      context: () => context(req, res),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      // Encoded once: given the string, node:http would measure it, then join it to the header text and encode that.
      const body = Buffer.from(response.body.string);
      res.setHeader('content-length', body.length);
      res.end(body);
      return;
    }
    // Incremental delivery (@defer): each part as it comes.
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };

  return (req, res) => {
    const run = (index: number, error?: unknown): void => {
      if (error !== undefined) return onError(error, res);
      const step = steps[index];
      if (!step) {
        serve(req, res).catch((e: unknown) => onError(e, res));
        return;
      }
      try {
        step(req, res, (e) => run(index + 1, e));
      } catch (e) {
        onError(e, res);
      }
    };
    run(0);
  };
}
