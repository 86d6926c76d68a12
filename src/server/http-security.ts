/**
 * HTTP hardening around /graphql: security headers (helmet), CORS for the configured origins only, the JSON body
 * parser with its size limit, and an error handler that answers body errors (too large, not JSON) with a GraphQL-style
 * JSON error instead of Express's HTML page with a stack trace.
 */
import type { ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import helmet from 'helmet';
import cors from 'cors';
import type { Logger } from '../platform/logger';
import type { NodeMiddleware } from './graphql-http';

export interface HttpSecurityOptions {
  /** Origins allowed cross-origin; empty: same-origin only; ['*']: any. */
  corsOrigins: string[];
  maxBodyBytes: number;
}

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Connect-style: they use nothing of Express, so the /graphql handler runs them on node:http's objects as well. */
export interface HttpSecurity {
  headers: NodeMiddleware;
  cors: NodeMiddleware;
  json: NodeMiddleware;
  /** answers an error of the steps above (or an unexpected one) with a JSON error, never a page or a stack */
  answerError(error: unknown, res: ServerResponse): void;
  /** the same, as Express's error handler */
  errors: ErrorRequestHandler;
}

/** A JSON answer on node:http's response (no Express helpers needed). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

export function httpSecurity(options: HttpSecurityOptions, log: Logger): HttpSecurity {
  const { corsOrigins, maxBodyBytes } = options;
  const headers: NodeMiddleware = helmet({
    // JSON only, never a page: nothing may load, run or frame from a response.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  });
  const origin = corsOrigins.includes('*') ? '*' : corsOrigins.length ? corsOrigins : false;
  const corsHandler: NodeMiddleware = cors({ origin, methods: ['GET', 'POST'], exposedHeaders: ['x-request-id', 'x-consistency-token'], maxAge: 600 });
  const json = express.json({ limit: maxBodyBytes }) as unknown as NodeMiddleware;

  const answerError = (err: unknown, res: ServerResponse): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const e = err as { status?: number; type?: string; expose?: boolean };
    if (e.type === 'entity.too.large') {
      sendJson(res, 413, { errors: [{ message: `Request body is larger than the limit of ${maxBodyBytes} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
    } else if (e.expose && e.status && e.status >= 400 && e.status < 500) {
      // body-parser's client errors (malformed JSON, bad charset): their message is meant for the client.
      sendJson(res, e.status, { errors: [{ message: (err as Error).message, extensions: { code: 'BAD_REQUEST' } }] });
    } else {
      log.error({ err: { name: (err as Error)?.name, message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'unexpected HTTP error');
      sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    }
  };
  const errors: ErrorRequestHandler = (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    answerError(err, res);
  };
  return { headers, cors: corsHandler, json, answerError, errors };
}
