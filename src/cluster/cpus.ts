import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * The CPUs this process may use: `os.availableParallelism()` (the scheduler affinity mask, so
 * `taskset -c 0,1` gives 2), capped by a cgroup v2 CPU quota (`cpu.max`, as a container's
 * `--cpus` sets it), which Node 20's libuv does not read. At least 1.
 */
export function usableCpus(cgroupCpuMax = '/sys/fs/cgroup/cpu.max'): number {
  let count = availableParallelism();
  try {
    const [quota, period] = readFileSync(cgroupCpuMax, 'utf8').trim().split(/\s+/);
    if (quota !== undefined && quota !== 'max' && period !== undefined) {
      const cpus = Math.ceil(Number(quota) / Number(period));
      if (Number.isFinite(cpus) && cpus > 0) count = Math.min(count, cpus);
    }
  } catch {
    // No cgroup v2 CPU controller here: the affinity mask is all there is.
  }
  return Math.max(1, count);
}

/** `server.workers` as a process count. */
export function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? usableCpus() : workers;
}
