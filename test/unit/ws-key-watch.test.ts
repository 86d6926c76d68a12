import { EventEmitter } from 'node:events';
import pino from 'pino';
import { REVOKED_CLOSE_CODE, WsKeyWatch } from '../../src/server/ws-key-watch';

/** A socket that records how it was closed and emits 'close' as ws does. */
class FakeSocket extends EventEmitter {
  closedWith?: number;
  close(code: number): void {
    this.closedWith = code;
    this.emit('close');
  }
}

const log = pino({ level: 'silent' });

describe('WsKeyWatch', () => {
  it('closes the sockets of keys that are no longer valid, with 4403, and asks about each key once', async () => {
    const asked: string[][] = [];
    const watch = new WsKeyWatch(async (ids) => { asked.push([...ids].sort()); return new Set(['a']); }, 60_000, log);
    const [a1, a2, b] = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
    watch.add(a1, 'a');
    watch.add(a2, 'a');
    watch.add(b, 'b');
    expect(await watch.check()).toBe(1);
    expect(asked).toEqual([['a', 'b']]);
    expect([a1.closedWith, a2.closedWith, b.closedWith]).toEqual([undefined, undefined, REVOKED_CLOSE_CODE]);
    expect(watch.size).toBe(2);
    watch.stop();
  });

  it('closes nothing when the check fails, and checks again next time', async () => {
    let fail = true;
    const watch = new WsKeyWatch(async () => { if (fail) throw new Error('connection refused'); return new Set(); }, 60_000, log);
    const s = new FakeSocket();
    watch.add(s, 'a');
    expect(await watch.check()).toBe(0);
    expect(s.closedWith).toBeUndefined();
    fail = false;
    expect(await watch.check()).toBe(1);
    expect(s.closedWith).toBe(REVOKED_CLOSE_CODE);
  });

  it('forgets a socket that closed by itself, and sends nothing once none is open', async () => {
    let calls = 0;
    const watch = new WsKeyWatch(async (ids) => { calls++; return new Set(ids); }, 60_000, log);
    const s = new FakeSocket();
    watch.add(s, 'a');
    s.emit('close');
    expect(watch.size).toBe(0);
    expect(await watch.check()).toBe(0);
    expect(calls).toBe(0);
  });

  it('runs one check at a time', async () => {
    let release!: (ids: Set<string>) => void;
    let calls = 0;
    const watch = new WsKeyWatch(() => { calls++; return new Promise((r) => { release = r; }); }, 60_000, log);
    watch.add(new FakeSocket(), 'a');
    const first = watch.check();
    expect(await watch.check()).toBe(0);
    release(new Set(['a']));
    expect(await first).toBe(0);
    expect(calls).toBe(1);
    watch.stop();
  });

  it('checks on its own every interval while sockets are open', async () => {
    jest.useFakeTimers();
    try {
      let calls = 0;
      const watch = new WsKeyWatch(async () => { calls++; return new Set(); }, 1000, log);
      const s = new FakeSocket();
      watch.add(s, 'a');
      await jest.advanceTimersByTimeAsync(999);
      expect(calls).toBe(0);
      await jest.advanceTimersByTimeAsync(1);
      expect(calls).toBe(1);
      expect(s.closedWith).toBe(REVOKED_CLOSE_CODE);
      // none open: the timer is gone
      await jest.advanceTimersByTimeAsync(5000);
      expect(calls).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
