import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Machine-wide CPU accounting (Linux `/proc/stat`), so a run can say how much CPU processes
 * other than its own three took while it measured: on a shared 2-core box that noise can be
 * larger than the overhead being measured.
 */

/** Busy and total CPU time of the whole machine, ms (all cores summed). */
export interface MachineCpu {
  busyMs: number;
  totalMs: number;
  at: number;
}

/** Reads `/proc/stat`; undefined where it does not exist (not Linux). */
export function machineCpu(): MachineCpu | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = ticks.reduce((sum, value) => sum + value, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    // USER_HZ is 100 on every mainstream Linux build.
    return { busyMs: (total - idle) * 10, totalMs: total * 10, at: performance.now() };
  } catch {
    return undefined;
  }
}

/**
 * Cores' worth of CPU used by other processes between two readings: machine busy time minus
 * `oursMs` (the CPU our processes used), divided by the wall time.
 */
export function foreignCores(
  before: MachineCpu | undefined,
  after: MachineCpu | undefined,
  oursMs: number,
): number {
  if (!before || !after) return Number.NaN;
  const wall = after.at - before.at;
  if (wall <= 0) return Number.NaN;
  return Math.max(0, after.busyMs - before.busyMs - oursMs) / wall;
}

/**
 * Waits (up to `maxSeconds`) until the machine is quiet: less than `threshold` cores busy over a
 * one-second window while our processes idle. Returns the busy cores last seen.
 */
export async function waitForQuiet(
  maxSeconds: number,
  threshold: number,
  log: (message: string) => void,
): Promise<number> {
  const deadline = performance.now() + maxSeconds * 1000;
  let busy = Number.NaN;
  for (let waited = 0; ; waited++) {
    const before = machineCpu();
    await sleep(1000);
    busy = foreignCores(before, machineCpu(), 0);
    if (!(busy >= threshold) || performance.now() >= deadline) return busy;
    if (waited % 15 === 0)
      log(`waiting for a quieter machine: ${busy.toFixed(2)} cores busy elsewhere`);
  }
}
