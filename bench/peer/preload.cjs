/*
 * Preloaded into the PostGraphile peer (NODE_OPTIONS="--require bench/peer/preload.cjs"):
 * 1. PostGraphile 5 wants Node >= 22: on Node 20 every database query fails until Promise.withResolvers exists.
 * 2. Counts the SQL statements the process sends (every pg Client#query call) and the HTTP requests it serves, and
 *    serves both on http://127.0.0.1:$BENCH_STATS_PORT/, so the suite can report statements per request for the
 *    peer too.
 */
'use strict';

if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const Module = require('node:module');
const http = require('node:http');

let statements = 0;
let requests = 0;
let statsServer;
// every HTTP request the process serves (but the stats server's own)
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function countedEmit(event) {
  if (event === 'request' && this !== statsServer) requests++;
  return emit.apply(this, arguments);
};
const patched = new WeakSet();
const load = Module._load;
Module._load = function patchedLoad(request) {
  const exported = load.apply(this, arguments);
  if (request === 'pg' && exported && exported.Client && !patched.has(exported.Client.prototype)) {
    patched.add(exported.Client.prototype);
    const query = exported.Client.prototype.query;
    exported.Client.prototype.query = function countedQuery() {
      statements++;
      return query.apply(this, arguments);
    };
  }
  return exported;
};

const port = Number(process.env.BENCH_STATS_PORT || 0);
if (port) {
  statsServer = http.createServer((req, res) => {
    const body = JSON.stringify({ statements, requests });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  statsServer.listen(port, '127.0.0.1');
  statsServer.unref();
}
