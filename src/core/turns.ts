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
