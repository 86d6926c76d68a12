#!/usr/bin/env node
/**
 * Bundles the browser pages of web/ (GraphiQL at GET /graphql, the dashboard at GET /dashboard) with esbuild into
 * dist/web/, for the gateway to serve (src/server/web.ts). Everything a page loads comes from there: scripts, styles,
 * fonts and Monaco's editor workers, so the pages work with no internet.
 *
 *   node scripts/build-web.mjs              build
 *   node scripts/build-web.mjs --if-stale   build only when dist/web is missing or older than its inputs
 *   ... --optional                          a failed build warns and exits 0 (npm start's prestart: the API serves
 *                                           without the pages, e.g. where devDependencies were not installed)
 *
 * Layout of dist/web: graphiql.html and dashboard.html (referencing hashed assets), assets/ (served at /web/),
 * manifest.json. A build is written to a temporary folder and moved into place, so a gateway never serves half of one
 * and builds started at once (several test workers) do not trip over each other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist', 'web');
const PUBLIC_PATH = '/web/';

/** What a build depends on: a change to any of these makes dist/web stale. */
const INPUTS = ['web', 'scripts/build-web.mjs', 'package-lock.json'];

function newestMtime(target) {
  let newest = 0;
  const visit = (p) => {
    let stat;
    try {
      stat = fs.statSync(p);
    } catch {
      return;
    }
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(p)) visit(path.join(p, name));
    } else {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  visit(target);
  return newest;
}

export function isStale() {
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(outDir, 'manifest.json'), 'utf8'));
  } catch {
    return true;
  }
  const inputs = Math.max(...INPUTS.map((p) => newestMtime(path.join(root, p))));
  return !(manifest.inputsMtime >= inputs);
}

/** Output file (relative to the assets folder) of each entry point, and its CSS bundle if any. */
function outputsOf(metafile, assetsDir) {
  const byEntry = {};
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!output.entryPoint) continue;
    byEntry[output.entryPoint] = {
      js: path.relative(assetsDir, path.resolve(root, file)).split(path.sep).join('/'),
      css: output.cssBundle ? path.relative(assetsDir, path.resolve(root, output.cssBundle)).split(path.sep).join('/') : undefined,
    };
  }
  return byEntry;
}

function page(template, { js, css }) {
  const html = fs.readFileSync(path.join(root, template), 'utf8');
  const styles = css ? `<link rel="stylesheet" href="${PUBLIC_PATH}${css}">` : '';
  return html
    .replace('<!-- styles -->', styles)
    .replace('<!-- script -->', `<script type="module" src="${PUBLIC_PATH}${js}"></script>`);
}

export async function buildWeb({ log = console.log } = {}) {
  const { build } = await import('esbuild');
  const started = Date.now();
  const inputsMtime = Math.max(...INPUTS.map((p) => newestMtime(path.join(root, p))));
  fs.mkdirSync(path.dirname(outDir), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(path.dirname(outDir), '.web-build-'));
  fs.chmodSync(tmp, 0o755); // mkdtemp makes it private; the pages are for whoever runs the gateway
  const assets = path.join(tmp, 'assets');
  try {
    // Monaco's web workers (the editor, JSON for variables and headers, GraphQL for the operation), each one classic
    // script: GraphiQL's MonacoEnvironment.getWorker starts them from our own server.
    const workers = await build({
      absWorkingDir: root,
      entryPoints: {
        'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
        'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
        'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
      },
      outdir: path.join(assets, 'workers'),
      entryNames: '[name]-[hash]',
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: ['es2022'],
      minify: true,
      metafile: true,
      logLevel: 'warning',
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    const workerFiles = {};
    for (const [name, out] of Object.entries(outputsOf(workers.metafile, assets))) {
      const key = /editor\.worker/.test(name) ? 'editor' : /json\.worker/.test(name) ? 'json' : 'graphql';
      workerFiles[key] = PUBLIC_PATH + out.js;
    }

    const pages = await build({
      absWorkingDir: root,
      entryPoints: { graphiql: 'web/graphiql/main.tsx', dashboard: 'web/dashboard/main.ts' },
      outdir: assets,
      entryNames: '[name]-[hash]',
      chunkNames: 'chunks/[name]-[hash]',
      assetNames: 'files/[name]-[hash]',
      publicPath: PUBLIC_PATH,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      jsx: 'automatic',
      minify: true,
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'warning',
      loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file', '.svg': 'file', '.png': 'file' },
      define: {
        'process.env.NODE_ENV': '"production"',
        __MONACO_WORKERS__: JSON.stringify(workerFiles),
      },
    });
    const entries = outputsOf(pages.metafile, assets);
    fs.writeFileSync(path.join(tmp, 'graphiql.html'), page('web/graphiql/index.html', entries['web/graphiql/main.tsx']));
    fs.writeFileSync(path.join(tmp, 'dashboard.html'), page('web/dashboard/index.html', entries['web/dashboard/main.ts']));
    fs.writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify({ builtAt: new Date().toISOString(), inputsMtime, workers: workerFiles, entries }, null, 2) + '\n');

    // Into place: the old build moves aside first (a rename onto a non-empty folder fails), then goes.
    const old = `${outDir}.old-${process.pid}-${Date.now()}`;
    let moved = false;
    try {
      fs.renameSync(outDir, old);
      moved = true;
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
    try {
      fs.renameSync(tmp, outDir);
    } catch (error) {
      // Another build got there between the two renames: keep that one.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    if (moved) fs.rmSync(old, { recursive: true, force: true });
    log(`web pages built into ${path.relative(root, outDir)}/ in ${Date.now() - started} ms`);
  } catch (error) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes('--if-stale');
  const optional = process.argv.includes('--optional');
  if (ifStale && !isStale()) {
    process.exit(0);
  }
  buildWeb().catch((error) => {
    console.error(`building the web pages failed: ${error.message}`);
    if (optional) {
      console.error('GraphiQL and the dashboard answer 503 until `npm run build:web` succeeds; the API is not affected.');
      process.exit(0);
    }
    process.exit(1);
  });
}
