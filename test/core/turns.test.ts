import { describe, expect, it } from 'vitest';
import { afterGrowingTurns } from '../../src/core/turns.js';

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
});
