/** Naming a request after its operation: the module serving its root fields and the operation's name. */
import { parse } from 'graphql';
import { describeOperation, operationDescriber } from '../../src/platform/request-context';

const serviceOf = (_type: string, field: string) => ({ orders: 'orders', marketData: 'market-data' } as Record<string, string>)[field];

describe('operationDescriber', () => {
  const document = parse('query Book { orders { edges { cursor } } } query Bars { marketData(symbol: "X") { edges { cursor } } } query Both { orders { edges { cursor } } marketData(symbol: "X") { edges { cursor } } }');

  it('describes each operation of a document as describeOperation does', () => {
    const describe = operationDescriber(serviceOf);
    for (const name of ['Book', 'Bars', 'Both', 'None']) {
      expect(describe(document, name)).toEqual(describeOperation(document, name, serviceOf));
    }
    expect(describe(document, 'Book')).toEqual({ service: 'orders', operation: 'Book' });
    expect(describe(document, 'Bars')).toEqual({ service: 'market-data', operation: 'Bars' });
    expect(describe(document, 'Both')).toEqual({ service: 'gateway', operation: 'Both' });
  });

  it('remembers an answer per document and operation name, and keeps documents apart', () => {
    const describe = operationDescriber(serviceOf);
    const first = describe(document, 'Book');
    expect(describe(document, 'Book')).toBe(first);
    expect(describe(document, 'Bars')).not.toBe(first);
    const anonymous = parse('{ marketData(symbol: "X") { edges { cursor } } }');
    expect(describe(anonymous, undefined)).toEqual({ service: 'market-data', operation: 'marketData' });
    expect(describe(parse('{ orders { edges { cursor } } }'), undefined)).toEqual({ service: 'orders', operation: 'orders' });
  });
});
