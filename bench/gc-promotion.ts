import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, startChild } from './ipc.js';
import { chatLoad, MASTER_KEY } from './load.js';

/**
 * `npx tsx bench/gc-promotion.ts`: what the garbage collector does per request, for the naive
 * proxy and Switchyard behind the same fake upstream (20 connections, non-streaming, or 200-event
 * streams with BENCH_MODE=stream). Each runs with `--trace-gc-nvp`; after 2 s of warm-up,
 * BENCH_SECONDS (default 5) of load. Per request it prints the bytes allocated, the bytes that
 * outlived a young-generation GC and the bytes promoted to the old space, the scavenges' pause,
 * the full GCs, and the CPU of the main thread and of the other threads (V8's GC helpers mark
 * the old space concurrently: promoted bytes cost there).
 *
 * Promotion is the figure to watch. Objects of a request that ends in milliseconds should die
 * young; a request that keeps being promoted has something holding it (docs/benchmarks.md,
 * "Hidden classes made per request"). Unlike CPU time, these byte counts hardly move with the
 * host's load.
 */

const stream = process.env['BENCH_MODE'] === 'stream';
const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
const directory = mkdtempSync(join(tmpdir(), 'switchyard-gc-'));

/** utime + stime of the main thread and of the others, µs. */
function threadCpu(pid: number): { main: number; others: number } {
  const cpu = { main: 0, others: 0 };
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const us = (Number(fields[11]) + Number(fields[12])) * 10_000;
      if (task === String(pid)) cpu.main += us;
      else cpu.others += us;
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return cpu;
}

/** Sums of `--trace-gc-nvp` lines from `offset` on. */
function gcSums(path: string, offset: number) {
  const text = readFileSync(path, 'utf8').slice(offset);
  const sums = {
    allocated: 0,
    promoted: 0,
    survived: 0,
    scavenges: 0,
    scavengeMs: 0,
    full: 0,
    fullMs: 0,
  };
  for (const line of text.split('\n')) {
    const kind = /\bgc=(\w+)/.exec(line)?.[1];
    if (!kind) continue;
    const field = (name: string) => Number(new RegExp(`\\b${name}=([\\d.]+)`).exec(line)?.[1] ?? 0);
    sums.allocated += field('allocated');
    if (kind === 's') {
      sums.scavenges++;
      sums.scavengeMs += field('pause');
      sums.promoted += field('promoted');
      sums.survived += field('new_space_survived');
    } else {
      sums.full++;
      sums.fullMs += field('pause');
    }
  }
  return sums;
}

async function measure(label: string, child: Child, log: string) {
  const pid = child.process.pid!;
  const run = (duration: number) => chatLoad(child.url, { stream, duration });
  await run(2);
  const offset = readFileSync(log, 'utf8').length;
  const before = threadCpu(pid);
  const result = await run(seconds);
  const after = threadCpu(pid);
  const n = result['2xx'];
  const gc = gcSums(log, offset);
  await child.stop();
  const per = (value: number) => value / n;
  return {
    label,
    rate: n / seconds,
    allocatedKb: per(gc.allocated) / 1024,
    survivedKb: per(gc.survived) / 1024,
    promotedKb: per(gc.promoted) / 1024,
    scavengeUs: per(gc.scavengeMs * 1000),
    scavenges: gc.scavenges,
    full: gc.full,
    fullUs: per(gc.fullMs * 1000),
    mainUs: per(after.main - before.main),
    othersUs: per(after.others - before.others),
  };
}

const fake = await startChild('./fake-upstream.ts');
await fake.call('configure', { chunks: stream ? 200 : 10, delayMs: 0 });
const rows = [];
for (const [label, file, env] of [
  ['naive proxy', './reference-proxy.ts', {}],
  ['Switchyard', './gateway-process.ts', { BENCH_MASTER_KEY: MASTER_KEY, BENCH_LOG_LEVEL: 'info' }],
] as const) {
  const log = join(directory, `${label}.log`);
  const child = await startChild(file, {
    env: { BENCH_UPSTREAM_URL: fake.url, ...env },
    nodeFlags: ['--trace-gc-nvp'],
    stdout: openSync(log, 'w'),
  });
  rows.push(await measure(label, child, log));
}
await fake.stop();
rmSync(directory, { recursive: true, force: true });

const unit = stream ? 'stream' : 'request';
console.log(
  `| Target | ${unit}s/s | allocated KB | survived a scavenge KB | promoted KB | scavenges | scavenge pause µs | full GCs | full GC pause µs | main thread CPU µs | other threads CPU µs |`,
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const row of rows)
  console.log(
    `| ${row.label} | ${row.rate.toFixed(0)} | ${row.allocatedKb.toFixed(1)} | ${row.survivedKb.toFixed(2)} | ${row.promotedKb.toFixed(2)} | ${row.scavenges} | ${row.scavengeUs.toFixed(1)} | ${row.full} | ${row.fullUs.toFixed(1)} | ${row.mainUs.toFixed(0)} | ${row.othersUs.toFixed(0)} |`,
  );
console.log(`(per ${unit}; ${seconds} s of load at 20 connections after 2 s of warm-up)`);
process.exit(0);
