import { EventStream, type EventHub } from '../../src/platform/event-hub';
import type { PublishedEvent } from '../../src/platform/outbox';

const ev = (sequence: number, accountId = 'A', topic = 'T'): PublishedEvent => ({
  eventId: `e${sequence}`, sequence: String(sequence), topic, accountId, symbol: 'S', payload: { n: sequence },
});

/** A hub stand-in: replay answers from a fixed outbox. */
function fakeHub(outbox: PublishedEvent[] = []) {
  return {
    removed: 0,
    replayCalls: 0,
    async replay(_filter: unknown, after: bigint, limit = 500) {
      this.replayCalls++;
      return outbox.filter((e) => BigInt(e.sequence) > after).slice(0, limit);
    },
    remove() {
      this.removed++;
    },
    onStreamError() {},
  };
}

async function take(stream: EventStream, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Number((await stream.next()).value!.sequence));
  return out;
}

describe('EventStream', () => {
  it('drops duplicates and anything at or below what it delivered, and filters by topic and account', async () => {
    const hub = fakeHub();
    const stream = new EventStream({ topics: ['T'], accountId: 'A' }, hub as unknown as EventHub, 100);
    stream.start(5n);
    for (const e of [ev(4), ev(6), ev(6), ev(7, 'B'), ev(8, 'A', 'OTHER'), ev(9), ev(7)]) stream.offer(e);
    expect(await take(stream, 2)).toEqual([6, 9]);
  });

  it('replays from the outbox first; live events that arrive meanwhile follow without gap or duplicate', async () => {
    const hub = fakeHub([ev(11), ev(12), ev(13)]);
    const stream = new EventStream({ topics: ['T'] }, hub as unknown as EventHub, 100);
    stream.start(10n);
    const catchingUp = stream.catchUp();
    stream.offer(ev(13)); // already in the replay
    stream.offer(ev(14)); // live, must wait behind the replay
    await catchingUp;
    expect(await take(stream, 4)).toEqual([11, 12, 13, 14]);
  });

  it('buffers events that arrive before it knows where it starts', async () => {
    const stream = new EventStream({ topics: ['T'] }, fakeHub() as unknown as EventHub, 100);
    stream.offer(ev(3));
    stream.offer(ev(5));
    stream.start(3n);
    expect(await take(stream, 1)).toEqual([5]);
  });

  it('ends a consumer that falls more than the limit behind with RATE_LIMITED', async () => {
    const hub = fakeHub();
    const stream = new EventStream({ topics: ['T'] }, hub as unknown as EventHub, 3);
    stream.start(0n);
    for (let i = 1; i <= 4; i++) stream.offer(ev(i));
    await expect(stream.next()).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(hub.removed).toBe(1);
  });

  it('replays a backlog larger than its limit a page at a time, at the consumer\'s pace, without ending it', async () => {
    const hub = fakeHub(Array.from({ length: 25 }, (_, i) => ev(i + 1)));
    const stream = new EventStream({ topics: ['T'] }, hub as unknown as EventHub, 10);
    stream.start(0n);
    const catchUp = stream.catchUp();
    // nothing taken yet: one page of 10 fills the queue, and the catch-up waits for room
    await new Promise((r) => setImmediate(r));
    expect(hub.replayCalls).toBe(1);
    expect(await take(stream, 25)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    await catchUp;
    // pages of 10: 10, 10, 5 (the short one ends the catch-up)
    expect(hub.replayCalls).toBe(3);
    stream.offer(ev(26));
    expect(await take(stream, 1)).toEqual([26]);
  });

  it('stops a waiting catch-up when the consumer leaves', async () => {
    const hub = fakeHub(Array.from({ length: 25 }, (_, i) => ev(i + 1)));
    const stream = new EventStream({ topics: ['T'] }, hub as unknown as EventHub, 10);
    stream.start(0n);
    const catchUp = stream.catchUp();
    await new Promise((r) => setImmediate(r));
    await stream.return();
    await catchUp;
    expect(hub.replayCalls).toBe(1);
  });

  it('ends a pending next() when the consumer leaves', async () => {
    const hub = fakeHub();
    const stream = new EventStream({ topics: ['T'] }, hub as unknown as EventHub, 3);
    stream.start(0n);
    const pending = stream.next();
    await stream.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(hub.removed).toBe(1);
  });

  it('ends with an error rather than skip events when the catch-up cannot read the outbox', async () => {
    const hub = { ...fakeHub(), async replay() { throw new Error('database down'); }, remove() {}, onStreamError() {} };
    const stream = new EventStream({ topics: ['T'] }, hub as unknown as EventHub, 10);
    stream.start(1n);
    await stream.catchUp();
    stream.offer(ev(5));
    await expect(stream.next()).rejects.toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
  });
});
