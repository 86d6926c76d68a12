/** How the suite runs the project's CLI: this checkout's bin/tradeql.js, under the Node running the bench. */
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');

export function tradeqlArgs(...command: string[]): string[] {
  return [path.join(ROOT, 'bin', 'tradeql.js'), ...command];
}

/** The bench's environment with `vars` on top, for a `tradeql` child. */
export function tradeqlEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...vars };
  // None of the caller's replicas or Node flags: bin/tradeql.js loads tsx itself.
  if (!('DATABASE_REPLICA_URLS' in vars)) delete env.DATABASE_REPLICA_URLS;
  delete env.NODE_OPTIONS;
  return env;
}
