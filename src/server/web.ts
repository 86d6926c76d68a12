/**
 * The browser pages: GraphiQL at GET /graphql for browsers (a request that prefers text/html; POST and every other GET
 * go on to Apollo), the live dashboard at GET /dashboard, and their assets at /web/. scripts/build-web.mjs bundles
 * them into dist/web from the installed packages, so nothing is loaded from another origin. `npm start` builds them
 * first; a gateway that finds them missing builds them at the first page request (esbuild is a devDependency).
 * The pages need no key: the user enters one, and the pages send it with their own requests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkoutRoot } from '../platform/checkout-root';
import { execFile } from 'node:child_process';
import express, { type Express, type Request, type Response } from 'express';
import type { Logger } from '../platform/logger';

export interface WebOptions {
  /** GraphiQL at GET /graphql for browsers */
  graphiql: boolean;
  /** the dashboard at GET /dashboard */
  dashboard: boolean;
  log: Logger;
  /** the built pages; default dist/web of this checkout */
  dir?: string;
  /** build the pages at the first request when they are missing (default true) */
  buildIfMissing?: boolean;
}

/**
 * The pages' own policy (the API's responses keep helmet's `default-src 'none'`): scripts, workers and connections
 * only to this origin, inline styles for the editor and the chart. The WebSocket of the same host is named as well:
 * not every browser counts ws: as 'self'.
 */
function pageCsp(req: Request): string {
  const host = req.headers.host && /^[A-Za-z0-9.\-:[\]]{1,255}$/.test(req.headers.host) ? req.headers.host : undefined;
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${host ? ` ws://${host} wss://${host}` : ''}`,
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Browsers navigating to /graphql ask for HTML first; API clients ask for JSON, or anything. */
export function prefersHtml(req: Request): boolean {
  return req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';
}

export function mountWeb(app: Express, options: WebOptions): void {
  if (!options.graphiql && !options.dashboard) return;
  const root = checkoutRoot();
  const dir = options.dir ?? path.join(root, 'dist', 'web');
  const log = options.log.child({ component: 'web' });
  let building: Promise<void> | undefined;
  let failedAt = 0;

  /** One build at a time, however many requests wait for it; after a failure, none for a minute. */
  const build = (): Promise<void> => {
    if (!building && Date.now() - failedAt < 60_000) {
      return Promise.reject(new Error('the web pages could not be built: run `npm run build:web` and look at its output'));
    }
    building ??= new Promise<void>((resolve, reject) => {
      log.info('the web pages are not built: building them (npm run build:web)');
      execFile(process.execPath, [path.join(root, 'scripts', 'build-web.mjs')], { cwd: root, timeout: 300_000 }, (error, _stdout, stderr) => {
        if (error) {
          log.error({ err: { message: error.message }, stderr: stderr.slice(-2000) }, 'building the web pages failed');
          building = undefined;
          failedAt = Date.now();
          reject(new Error('the web pages could not be built: run `npm run build:web` and look at its output'));
        } else {
          log.info('web pages built');
          resolve();
        }
      });
    });
    return building;
  };

  const readPage = async (name: string): Promise<string> => {
    const file = path.join(dir, name);
    try {
      return await fs.promises.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || options.buildIfMissing === false) {
        throw new Error(`the web pages are not built (${path.relative(root, file)} is missing): run \`npm run build:web\``);
      }
    }
    await build();
    return fs.promises.readFile(file, 'utf8');
  };

  const sendPage = async (req: Request, res: Response, name: string, edit: (html: string) => string = (html) => html) => {
    res.setHeader('Content-Security-Policy', pageCsp(req));
    res.setHeader('Cache-Control', 'no-cache');
    try {
      res.type('html').send(edit(await readPage(name)));
    } catch (error) {
      res.status(503).type('text/plain').send(`${(error as Error).message}\n`);
    }
  };

  if (options.graphiql) {
    app.get('/graphql', (req, res, next) => {
      if (!prefersHtml(req)) return next();
      void sendPage(req, res, 'graphiql.html');
    });
  }
  if (options.dashboard) {
    // The link to GraphiQL shows only where GraphiQL is served.
    const edit = (html: string) => (options.graphiql ? html.replace('<a id="graphiql-link" href="/graphql" hidden>', '<a id="graphiql-link" href="/graphql">') : html);
    app.get(['/dashboard', '/dashboard/'], (req, res) => void sendPage(req, res, 'dashboard.html', edit));
  }

  // Hashed file names: a build never changes a file under the same name, so they may be cached for good.
  const assets = express.static(path.join(dir, 'assets'), { index: false, immutable: true, maxAge: '365d', fallthrough: true });
  app.use('/web', (req, res, next) => {
    // Workers take their policy from their own script's response.
    res.setHeader('Content-Security-Policy', pageCsp(req));
    next();
  }, assets, (_req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });
}
