/** A graphql-ws client for tests: collects the events of one subscription and waits for them. */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Subscription<T> {
  events: T[];
  errors: unknown[];
  completed: boolean;
  /** Resolves when at least `count` events arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<T[]>;
  close(): Promise<void>;
}

export function openClient(wsUrl: string, connectionParams?: Record<string, unknown>): Client {
  return createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, connectionParams });
}

export function subscribe<T = any>(client: Client, query: string, variables?: Record<string, unknown>): Subscription<T> {
  const sub: Subscription<T> = {
    events: [],
    errors: [],
    completed: false,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (sub.events.length < count) {
        if (sub.errors.length) throw new Error(`subscription failed: ${JSON.stringify(sub.errors)}`);
        if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${count} events, got ${sub.events.length}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return sub.events;
    },
    async close() {
      dispose();
    },
  };
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) sub.errors.push(result.errors);
        else sub.events.push(result.data as T);
      },
      error: (error) => sub.errors.push(error),
      complete: () => {
        sub.completed = true;
      },
    },
  );
  return sub;
}

/** Until the server has registered `count` live streams (a subscription is live once the hub holds its stream). */
export async function waitForStreams(hub: { size: number }, count: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (hub.size < count) {
    if (Date.now() > deadline) throw new Error(`only ${hub.size} of ${count} streams registered`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
