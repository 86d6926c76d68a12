/**
 * HTTP wiring: Express 5 + Apollo Server at /graphql, one context per request (unit of work, read session,
 * DataLoaders), health and readiness endpoints.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { Database } from '../platform/database';
import type { Logger } from '../platform/logger';
import { ReadSession } from '../platform/read-session';
import { createLoaders, createServices, type RequestContext } from '../modules';
import { buildResolvers, loadTypeDefs } from './schema';
import { createFormatError } from './format-error';

export interface Gateway {
  httpServer: http.Server;
  listen(port: number, host: string): Promise<{ port: number; url: string }>;
  stop(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Tells the client where its reads were served (replica / primary). */
const readSourcePlugin: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue }) {
        if (response.body.kind !== 'single') return;
        const servedBy = [...contextValue.scope.reads.servedBy].sort();
        if (!servedBy.length) return;
        response.body.singleResult.extensions = { ...(response.body.singleResult.extensions ?? {}), readFrom: servedBy };
      },
    };
  },
};

export async function createGateway({ db, log }: { db: Database; log: Logger }): Promise<Gateway> {
  const services = createServices();
  const app = express();
  app.disable('x-powered-by');
  const httpServer = http.createServer(app);
  const apollo = new ApolloServer<RequestContext>({
    typeDefs: loadTypeDefs(),
    resolvers: buildResolvers(),
    formatError: createFormatError(log),
    includeStacktraceInErrorResponses: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // The cache-control plugin wraps every field resolver; we set no cache hints.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginLandingPageDisabled(),
      readSourcePlugin,
    ],
  });
  await apollo.start();

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await db.read('select 1', [], 'primary');
      res.json({ status: 'ready', primary: 'ok' });
    } catch {
      res.status(503).json({ status: 'not ready', primary: 'unreachable' });
    }
  });

  app.use(
    '/graphql',
    express.json({ limit: '10mb' }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const header = req.header('x-request-id');
        const requestId = header && REQUEST_ID.test(header) ? header : randomUUID();
        res.setHeader('x-request-id', requestId);
        const scope = { db, reads: new ReadSession(db), log: log.child({ requestId }) };
        return { scope, services, loaders: createLoaders(scope, services), requestId };
      },
    }),
  );

  return {
    httpServer,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          const address = httpServer.address();
          const actual = typeof address === 'object' && address ? address.port : port;
          const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
          resolve({ port: actual, url: `http://${shownHost}:${actual}/graphql` });
        });
      });
    },
    async stop() {
      await apollo.stop();
    },
  };
}
