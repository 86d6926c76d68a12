/** GraphQL <-> accounts service. */
import type { RequestContext, AccountOrdersArgs } from '../index';

type Ctx = RequestContext;

export const accountsResolvers = {
  Query: {
    account: (_: unknown, a: { accountId: string }, ctx: Ctx) => ctx.services.accounts.byId(ctx.scope, a.accountId),
  },
  Mutation: {
    createAccount: (_: unknown, a: { input: { accountId: string; name: string } }, ctx: Ctx) => ctx.services.accounts.create(ctx.scope, a.input),
  },
  Account: {
    positions: (acc: { accountId: string }, _: unknown, ctx: Ctx) => ctx.loaders.positionsOfAccount.load(acc.accountId),
    orders: (acc: { accountId: string }, args: AccountOrdersArgs, ctx: Ctx) => ctx.loaders.ordersOfAccount(args).load(acc.accountId),
  },
};
