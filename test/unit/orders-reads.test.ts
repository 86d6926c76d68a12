/** The read side of the orders service on a fake repository: batches grouped by key, ids checked, array literals. */
import { toPgArray } from '../../src/platform/pg-array';
import { OrdersService } from '../../src/modules/orders/orders.service';
import type { OrdersRepository, TradeRow } from '../../src/modules/orders/orders.repository';
import type { PositionsService } from '../../src/modules/positions/positions.service';
import type { Scope } from '../../src/platform/scope';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const trade = (tradeId: string, orderId: string) => ({ tradeId, orderId }) as TradeRow;

function serviceReturning(rows: TradeRow[]) {
  const asked: (readonly string[])[] = [];
  const repo = { tradesOfOrders: async (_reads: unknown, ids: readonly string[]) => (asked.push(ids), rows) } as unknown as OrdersRepository;
  return { service: new OrdersService({} as PositionsService, repo), asked };
}

const scope = {} as Scope;
const plain = (map: Map<string, TradeRow[]>) => [...map].map(([k, list]) => [k, list.map((t) => t.tradeId)]);

describe('tradesOfOrders', () => {
  it('groups the rows by order in the order they come, whether or not an order\'s rows are together', async () => {
    const together = [trade('1', id(1)), trade('2', id(1)), trade('3', id(2)), trade('4', id(3)), trade('5', id(3)), trade('6', id(3))];
    expect(plain(await serviceReturning(together).service.tradesOfOrders(scope, [id(1), id(2), id(3)])))
      .toEqual([[id(1), ['1', '2']], [id(2), ['3']], [id(3), ['4', '5', '6']]]);
    const apart = [trade('1', id(1)), trade('2', id(2)), trade('3', id(1)), trade('4', id(2)), trade('5', id(2)), trade('6', id(1))];
    expect(plain(await serviceReturning(apart).service.tradesOfOrders(scope, [id(1), id(2)])))
      .toEqual([[id(1), ['1', '3', '6']], [id(2), ['2', '4', '5']]]);
    expect(plain(await serviceReturning([trade('1', id(1))]).service.tradesOfOrders(scope, [id(1)]))).toEqual([[id(1), ['1']]]);
    expect(plain(await serviceReturning([]).service.tradesOfOrders(scope, [id(1)]))).toEqual([]);
  });

  it('asks only for ids that can be order ids, and nothing when there are none', async () => {
    const { service, asked } = serviceReturning([]);
    await service.tradesOfOrders(scope, [id(1), 'nope', id(2)]);
    await service.tradesOfOrders(scope, [id(3)]);
    await service.tradesOfOrders(scope, ['nope']);
    expect(asked).toEqual([[id(1), id(2)], [id(3)]]);
  });
});

describe('toPgArray', () => {
  const oldToPgArray = (values: readonly string[]) => `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;

  it('writes the same literal as before', () => {
    const cases: string[][] = [[], [''], ['', ''], ['a'], [id(1), id(2)], ['a"b', 'c'], ['a\\b'], ['"', '\\', '\\"'], ['a,b', '{x}', ' ', 'NULL', 'é€'], ['ok', 'q"']];
    for (const values of cases) expect(toPgArray(values)).toBe(oldToPgArray(values));
  });

  it('fails as before on what is not a string', () => {
    expect(() => toPgArray([1 as unknown as string])).toThrow(TypeError);
    expect(() => toPgArray(['a', null as unknown as string])).toThrow(TypeError);
  });
});
