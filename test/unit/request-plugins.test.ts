/** Our Apollo request plugins as one listener: the same hooks, in order, with Apollo's semantics on failure. */
import type { ApolloServerPlugin, BaseContext, GraphQLRequestContext } from '@apollo/server';
import { combineRequestPlugins } from '../../src/server/request-plugins';

type Plugin = ApolloServerPlugin<BaseContext>;
const ctx = {} as GraphQLRequestContext<BaseContext>;

/** A plugin that records its hooks' calls, optionally failing one. */
function recording(name: string, calls: string[], fail?: string): Plugin {
  return {
    async requestDidStart() {
      calls.push(`${name}.start`);
      return {
        async didResolveOperation() {
          await Promise.resolve();
          calls.push(`${name}.didResolveOperation`);
          if (fail === 'didResolveOperation') throw new Error(`${name} refuses`);
        },
        async willSendResponse() {
          calls.push(`${name}.willSendResponse`);
        },
      };
    },
  };
}

describe('combineRequestPlugins', () => {
  it('starts every plugin and calls their hooks in the order given, only the hooks some plugin has', async () => {
    const calls: string[] = [];
    const quiet: Plugin = { async requestDidStart() { calls.push('quiet.start'); } };
    const combined = combineRequestPlugins([recording('a', calls), quiet, recording('b', calls)]);
    const listener = (await combined.requestDidStart!(ctx))!;
    expect(Object.keys(listener).sort()).toEqual(['didResolveOperation', 'willSendResponse']);
    await listener.didResolveOperation!(ctx as never);
    await listener.willSendResponse!(ctx as never);
    expect(calls).toEqual(['a.start', 'quiet.start', 'b.start', 'a.didResolveOperation', 'b.didResolveOperation', 'a.willSendResponse', 'b.willSendResponse']);
  });

  it('runs every hook when one fails, and fails with the first failure (as Promise.all over them would)', async () => {
    const calls: string[] = [];
    const combined = combineRequestPlugins([recording('a', calls), recording('b', calls, 'didResolveOperation'), recording('c', calls, 'didResolveOperation')]);
    const listener = (await combined.requestDidStart!(ctx))!;
    await expect(listener.didResolveOperation!(ctx as never)).rejects.toThrow('b refuses');
    expect(calls.filter((c) => c.endsWith('didResolveOperation'))).toEqual(['a.didResolveOperation', 'b.didResolveOperation', 'c.didResolveOperation']);
  });

  it('refuses a plugin or a hook it cannot combine, rather than skip it', async () => {
    expect(() => combineRequestPlugins([{ async serverWillStart() {} }])).toThrow(/serverWillStart is not a request hook/);
    const withExecution: Plugin = { async requestDidStart() { return { async executionDidStart() {} }; } };
    await expect(combineRequestPlugins([withExecution]).requestDidStart!(ctx)).rejects.toThrow(/executionDidStart cannot be combined/);
  });
});
