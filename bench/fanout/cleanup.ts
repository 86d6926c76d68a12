/** Undoing the run, in reverse order of setup; whatever ends the run calls it, and it runs once. */
import { state } from './lifecycle';
import { closeWorkers } from './workers';
import { closeBaseline } from './baseline';
import { stopGateways } from './gateways';
import { dropDatabase } from './database';

let cleanupPromise: Promise<void> | undefined;

export function cleanup(): Promise<void> {
  cleanupPromise ??= (async () => {
    state.stopping = true;
    await closeWorkers();
    closeBaseline();
    await stopGateways();
    await dropDatabase();
  })();
  return cleanupPromise;
}
