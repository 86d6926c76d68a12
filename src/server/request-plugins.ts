/**
 * Our per-request Apollo plugins, handed to Apollo as one. Apollo calls every plugin's `requestDidStart`, then at
 * each step of a request every listener's hook through `Promise.all`, whether the listener has that hook or not:
 * with six listeners of ours that was about 130 of the 210 promises of a small request, each of which runs
 * AsyncLocalStorage's hook on Node 20. One listener calling ours in order does the same work with a few.
 *
 * The semantics Apollo gives them are kept: every listener's hook runs even when one fails, and the first failure is
 * what Apollo sees. Only the hooks ours use can be combined (a plugin with any other is refused at start), so a hook
 * added later cannot be silently skipped.
 */
import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';

const COMBINED_HOOKS = ['didResolveSource', 'didResolveOperation', 'didEncounterErrors', 'willSendResponse'] as const;
type Hook = (typeof COMBINED_HOOKS)[number];
type HookFn = (context: never) => Promise<void>;

/** Runs every hook, in order, and rethrows the first failure once all have run. */
async function runAll(hooks: HookFn[], context: never): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (const hook of hooks) {
    try {
      await hook(context);
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}

export function combineRequestPlugins<TContext extends BaseContext>(plugins: ApolloServerPlugin<TContext>[]): ApolloServerPlugin<TContext> {
  for (const plugin of plugins) {
    const other = Object.keys(plugin).find((key) => key !== 'requestDidStart');
    if (other) throw new Error(`combineRequestPlugins: ${other} is not a request hook; give that plugin to Apollo on its own`);
  }
  return {
    async requestDidStart(requestContext) {
      const listeners: GraphQLRequestListener<TContext>[] = [];
      for (const plugin of plugins) {
        const listener = await plugin.requestDidStart?.(requestContext);
        if (!listener) continue;
        const other = Object.keys(listener).find((key) => !(COMBINED_HOOKS as readonly string[]).includes(key));
        if (other) throw new Error(`combineRequestPlugins: the request hook ${other} cannot be combined`);
        listeners.push(listener);
      }
      const combined: GraphQLRequestListener<TContext> = {};
      for (const name of COMBINED_HOOKS) {
        const hooks = listeners.flatMap((l) => (l[name] ? [(l[name] as HookFn).bind(l)] : []));
        if (hooks.length) (combined as Record<Hook, HookFn>)[name] = (context) => runAll(hooks, context);
      }
      return combined;
    },
  };
}
