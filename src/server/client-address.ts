/**
 * Who sent a request: the socket's peer, or, behind `trustedProxies` proxies (a load balancer that appends to
 * X-Forwarded-For, as docker/nginx.conf does), the address the outermost trusted proxy saw. proxy-addr reads the
 * header from the right, trusting only that many hops, so a client cannot choose its address by sending the header.
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

export function clientAddress(req: IncomingMessage, trustedProxies: number): string {
  if (trustedProxies <= 0) return req.socket.remoteAddress ?? 'unknown';
  return proxyAddr(req, (_address, hop) => hop < trustedProxies);
}
