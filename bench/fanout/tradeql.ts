/** How the bench runs the project's CLI: this checkout's bin/tradeql.js, under the Node running the bench. */
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');

export function tradeqlArgs(...command: string[]): string[] {
  return [path.join(ROOT, 'bin', 'tradeql.js'), ...command];
}

/** The bench's environment with `vars` on top, for a `tradeql` child. */
export function tradeqlEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...vars };
  // Only the bench's database (no read replicas of another one), and none of the caller's Node flags:
  // bin/tradeql.js loads tsx itself.
  delete env.DATABASE_REPLICA_URLS;
  delete env.NODE_OPTIONS;
  return env;
}
