/**
 * HTTP hardening around /graphql: security headers (helmet), CORS for the configured origins only, the JSON body
 * parser with its size limit, and an error handler that answers body errors (too large, not JSON) with a GraphQL-style
 * JSON error instead of Express's HTML page with a stack trace.
 */
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import helmet from 'helmet';
import cors from 'cors';
import type { Logger } from '../platform/logger';

export interface HttpSecurityOptions {
  /** Origins allowed cross-origin; empty: same-origin only; ['*']: any. */
  corsOrigins: string[];
  maxBodyBytes: number;
}

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface HttpSecurity {
  headers: RequestHandler;
  cors: RequestHandler;
  json: RequestHandler;
  errors: ErrorRequestHandler;
}

export function httpSecurity(options: HttpSecurityOptions, log: Logger): HttpSecurity {
  const { corsOrigins, maxBodyBytes } = options;
  const headers = helmet({
    // JSON only, never a page: nothing may load, run or frame from a response.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  });
  const origin = corsOrigins.includes('*') ? '*' : corsOrigins.length ? corsOrigins : false;
  const corsHandler = cors({ origin, methods: ['GET', 'POST'], exposedHeaders: ['x-request-id', 'x-consistency-token'], maxAge: 600 });
  const json = express.json({ limit: maxBodyBytes });

  const errors: ErrorRequestHandler = (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    const e = err as { status?: number; type?: string; expose?: boolean };
    if (e.type === 'entity.too.large') {
      res.status(413).json({ errors: [{ message: `Request body is larger than the limit of ${maxBodyBytes} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
    } else if (e.expose && e.status && e.status >= 400 && e.status < 500) {
      // body-parser's client errors (malformed JSON, bad charset): their message is meant for the client.
      res.status(e.status).json({ errors: [{ message: (err as Error).message, extensions: { code: 'BAD_REQUEST' } }] });
    } else {
      log.error({ err: { name: (err as Error)?.name, message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'unexpected HTTP error');
      res.status(500).json({ errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    }
  };
  return { headers, cors: corsHandler, json, errors };
}
