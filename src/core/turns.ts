/**
 * Runs `run` in the check phase of a coming turn of the event loop, after the poll phase has
 * delivered what was ready, and later still while the batch is growing: as long as `size()` grew
 * during the turn just ended (the loop is busy: each turn brings more), it waits one more turn,
 * up to `maxTurns` extra turns and while `size()` stays under `cap`.
 *
 * An idle loop turns again at once (a pending immediate keeps the poll phase from waiting), so a
 * lone item waits microseconds and no timer adds latency; a busy loop puts the items of several
 * turns in one batch. The group commit (billing/meter.ts) and a worker's usage messages to the
 * cluster primary (cluster/shared.ts) batch this way.
 */
export function afterGrowingTurns(
  size: () => number,
  maxTurns: number,
  run: () => void,
  cap = Number.POSITIVE_INFINITY,
): void {
  let lingered = 0;
  let seen = 0;
  const due = () => {
    const now = size();
    if (lingered < maxTurns && now > seen && now < cap) {
      lingered++;
      seen = now;
      setImmediate(due);
      return;
    }
    run();
  };
  setImmediate(due);
}

/**
 * Extra turns are waited only when the previous batch began less than this ago, ms: under load
 * (a batch every few ms) batches grow over turns; after a quiet spell the first one goes at once.
 */
export const BUSY_MS = 20;

/**
 * A scheduler for one batching queue: each call runs `run` through {@link afterGrowingTurns},
 * with `maxTurns` extra turns while batches are frequent (the previous one began within
 * {@link BUSY_MS}) and none after a quiet spell, so a lone item on an idle loop goes in the first
 * check phase. Call it when the first item of a batch is queued.
 */
export function turnBatcher(options: {
  maxTurns: number;
  cap?: number;
}): (size: () => number, run: () => void) => void {
  let last = Number.NEGATIVE_INFINITY;
  return (size, run) => {
    const turns = performance.now() - last < BUSY_MS ? options.maxTurns : 0;
    afterGrowingTurns(
      size,
      turns,
      () => {
        last = performance.now();
        run();
      },
      options.cap,
    );
  };
}
