import { CommitPositions } from '../../src/server/consistency';

/** A primary whose WAL position moves on with every read, and which records when each read was sent. */
function primary() {
  let lsn = 0;
  const sent: number[] = [];
  return {
    sent,
    async read<T>(): Promise<T[]> {
      const at = ++lsn;
      sent.push(at);
      await new Promise((r) => setTimeout(r, 5));
      return [{ lsn: `0/${at}` }] as T[];
    },
  };
}

describe('CommitPositions', () => {
  it('answers every caller waiting before the read is sent with that one read', async () => {
    const db = primary();
    const positions = new CommitPositions(db);
    const tokens = await Promise.all(Array.from({ length: 10 }, () => positions.read()));
    expect(db.sent).toEqual([1]);
    expect(new Set(tokens)).toEqual(new Set(['0/1']));
  });

  it('never gives a caller a read sent before it asked', async () => {
    const db = primary();
    const positions = new CommitPositions(db);
    const first = positions.read();
    // Asks while the first read is in flight: it may have committed after that read was sent.
    await new Promise((r) => setImmediate(r));
    const second = positions.read();
    expect(await first).toBe('0/1');
    expect(await second).toBe('0/2');
    expect(db.sent).toEqual([1, 2]);
  });

  it('passes a failed read to every caller of its batch', async () => {
    const positions = new CommitPositions({ read: () => Promise.reject(new Error('primary down')) });
    const results = await Promise.allSettled([positions.read(), positions.read()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
