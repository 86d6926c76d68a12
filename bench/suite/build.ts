/**
 * The servers under test run compiled, as production runs them (`npm run build`, then node on dist/), not through
 * tsx's loader: tsx hooks every require() (Apollo requires `crypto` on each request's query hash) and transforms at
 * load time. Compiled once per run with the project's tsc settings (bench/tsconfig.servers.json: the gateway's
 * sources and the baseline server) into a folder of this run's own inside the checkout, so that both find
 * node_modules and the gateway finds schema.graphql at the checkout's root.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { progress } from './lifecycle';
import { ROOT } from './tradeql';

const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const OUT = path.join(ROOT, '.tradeql', `bench-build-${process.pid}`);

/** `node <gatewayScript> serve` starts the compiled gateway. */
export const gatewayScript = path.join(OUT, 'src', 'cli.js');
export const baselineScript = path.join(OUT, 'bench', 'baseline', 'server.js');

export async function compileServers(): Promise<void> {
  const started = Date.now();
  progress('build: compiling the gateway and the baseline server (tsc)');
  await promisify(execFile)(process.execPath, [TSC, '-p', path.join(ROOT, 'bench', 'tsconfig.servers.json'), '--outDir', OUT], { cwd: ROOT, timeout: 300_000 });
  progress(`build: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

export function removeBuild(): void {
  fs.rmSync(OUT, { recursive: true, force: true });
}
