/**
 * Monaco (GraphiQL's editor) runs its language services in web workers. They are bundled by scripts/build-web.mjs as
 * files of their own, served by the gateway; their addresses come in at build time. Without this, GraphiQL would have
 * no worker (or load one from a CDN), and nothing may come from outside.
 */
declare const __MONACO_WORKERS__: { editor: string; json: string; graphql: string };

export function setupMonacoWorkers(): void {
  const workers = __MONACO_WORKERS__;
  (globalThis as unknown as { MonacoEnvironment: unknown }).MonacoEnvironment = {
    getWorker(_workerId: string, label: string): Worker {
      const url = label === 'json' ? workers.json : label === 'graphql' ? workers.graphql : workers.editor;
      return new Worker(url, { name: label });
    },
  };
}
