import type { IncomingMessage } from 'node:http';
import { clientAddress } from '../../src/server/client-address';

const request = (peer: string, forwardedFor?: string): IncomingMessage =>
  ({ socket: { remoteAddress: peer }, connection: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;

describe('clientAddress', () => {
  it('is the peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddress(request('10.0.0.5', '203.0.113.9'), 0)).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5'), 0)).toBe('10.0.0.5');
  });

  it('behind one trusted proxy, is the address that proxy appended, not what the client wrote before it', () => {
    // the client sent "X-Forwarded-For: 1.2.3.4" itself; the proxy appended the address it saw
    expect(clientAddress(request('10.0.0.2', '1.2.3.4, 203.0.113.9'), 1)).toBe('203.0.113.9');
    expect(clientAddress(request('10.0.0.2', '203.0.113.9'), 1)).toBe('203.0.113.9');
  });

  it('behind two trusted proxies, reads two hops from the right', () => {
    expect(clientAddress(request('10.0.0.2', '1.2.3.4, 203.0.113.9, 10.0.0.3'), 2)).toBe('203.0.113.9');
  });

  it('falls back to the peer when a trusted proxy sent no header', () => {
    expect(clientAddress(request('10.0.0.2'), 1)).toBe('10.0.0.2');
  });
});
