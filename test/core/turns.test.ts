import { describe, expect, it } from 'vitest';
import { afterGrowingTurns, BUSY_MS, turnBatcher } from '../../src/core/turns.js';

/** The loop-turn batching behind the group commit and the workers' usage messages. */

/** Adds `perTurn` items in each of `turns` consecutive loop turns; resolves with the size `run` saw. */
function grow(perTurn: number, turns: number, maxTurns: number, cap?: number): Promise<number> {
  let size = 0;
  return new Promise((resolve) => {
    let turn = 0;
    const add = () => {
      if (size === 0)
        afterGrowingTurns(
          () => size,
          maxTurns,
          () => resolve(size),
          cap,
        );
      size += perTurn;
      if (++turn < turns) setImmediate(add);
    };
    setImmediate(add);
  });
}

describe('afterGrowingTurns', () => {
  it('runs in the next check phase with no extra turns allowed', async () => {
    expect(await grow(2, 10, 0)).toBe(2);
  });

  it('waits while the batch grows, up to the extra turns allowed', async () => {
    expect(await grow(2, 10, 3)).toBe(8);
  });

  it('stops waiting once the batch stops growing', async () => {
    expect(await grow(5, 2, 3)).toBe(10);
  });

  it('stops waiting at the cap', async () => {
    expect(await grow(4, 10, 8, 6)).toBe(8);
  });

  it('turnBatcher waits extra turns only while batches are frequent', async () => {
    const schedule = turnBatcher({ maxTurns: 3 });
    /** Two items in each of six turns; the size the batch had when it ran. */
    const batch = () =>
      new Promise<number>((resolve) => {
        let size = 0;
        let turn = 0;
        const add = () => {
          if (size === 0)
            schedule(
              () => size,
              () => resolve(size),
            );
          size += 2;
          if (++turn < 6) setImmediate(add);
        };
        setImmediate(add);
      });
    // Quiet so far: the first batch goes in its first turn.
    expect(await batch()).toBe(2);
    // One just went: the next waits while it grows.
    expect(await batch()).toBe(8);
    // After a quiet spell, at once again.
    await new Promise((resolve) => setTimeout(resolve, BUSY_MS + 10));
    expect(await batch()).toBe(2);
  });
});
