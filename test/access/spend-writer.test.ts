import { describe, expect, it } from 'vitest';
import { createSpendWriter } from '../../src/access/spend-writer.js';
import type { SpendEntry } from '../../src/store/access/ledger.js';

describe('spend writer (group commit)', () => {
  it('merges settles of one event-loop turn per bucket into one write, and resolves after it commits', async () => {
    const writes: SpendEntry[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const writer = createSpendWriter({
      addSpend: async (entries) => void (writes.push(entries), await gate),
    });
    let done = 0;
    const all = Array.from({ length: 100 }, (_, i) =>
      writer
        .add([{ scope: i % 2 ? 'key:a:month' : 'key:b:month', periodStart: 0, amount: 3n }])
        .then(() => done++),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual([
      [
        { scope: 'key:b:month', periodStart: 0, amount: 150n },
        { scope: 'key:a:month', periodStart: 0, amount: 150n },
      ],
    ]);
    expect(done).toBe(0);
    release();
    await Promise.all(all);
    expect(done).toBe(100);
  });

  it('passes a failed write to every caller of that batch, and the next batch still writes', async () => {
    let fail = true;
    const writer = createSpendWriter({
      addSpend: async () => {
        if (fail) throw new Error('db down');
      },
    });
    await expect(
      Promise.all([
        writer.add([{ scope: 's', periodStart: 0, amount: 1n }]),
        writer.add([{ scope: 's', periodStart: 0, amount: 1n }]),
      ]),
    ).rejects.toThrow('db down');
    fail = false;
    await expect(writer.add([{ scope: 's', periodStart: 0, amount: 1n }])).resolves.toBeUndefined();
  });
});
