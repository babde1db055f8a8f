import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { ensureBuilt } from './built.js';
import { startChild } from './ipc.js';
import { CHAT_BODY, CHAT_PATH, HEADERS } from './load.js';
import { startServe } from './serve.js';

/**
 * `npx tsx bench/workers.ts`: `switchyard serve` with `server.workers: 1` and `2` (BENCH_WORKERS,
 * default `1,2`) under the same autocannon load (20 connections, non-streaming, the fake
 * upstream), in interleaved rounds (BENCH_ROUNDS, default 3, of BENCH_SECONDS, default 5, after
 * a 3 s warm-up each), and where each set's CPU goes: the primary's and the workers' CPU
 * (utime + stime from /proc) per answered request. BENCH_BASELINE (the root of another checkout,
 * built) adds the same sets run from its dist/, for before/after figures under the same load.
 * Config as bench/compare.ts's `Switchyard ×N`: SQLite, master key, logs at info to /dev/null.
 */

const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const counts = (process.env['BENCH_WORKERS'] ?? '1,2').split(',').map(Number);
const baseline = process.env['BENCH_BASELINE'];
const ROOT = resolve(import.meta.dirname, '..');

interface WorkerSet {
  name: string;
  port: number;
  child: ChildProcess;
}

function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000; // clock ticks of 10 ms
}

function children(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}

async function start(
  root: string,
  label: string,
  n: number,
  upstream: string,
  directory: string,
): Promise<WorkerSet> {
  const { port, child } = await startServe({
    root,
    directory,
    label,
    workers: n,
    upstream,
    logLevel: 'info',
  });
  return { name: `${label} ×${n}`, port, child };
}

const load = (port: number, duration: number) =>
  autocannon({
    url: `http://127.0.0.1:${port}${CHAT_PATH}`,
    method: 'POST',
    headers: HEADERS,
    body: CHAT_BODY,
    connections: 20,
    duration,
  });

ensureBuilt();
const directory = mkdtempSync(join(tmpdir(), 'switchyard-workers-'));
const fake = await startChild('./fake-upstream.ts');
await fake.call('configure', { chunks: 10, delayMs: 0 });
const sets: WorkerSet[] = [];
for (const n of counts) {
  sets.push(await start(ROOT, 'Switchyard', n, fake.url, directory));
  if (baseline) sets.push(await start(baseline, 'baseline', n, fake.url, directory));
}
const figures = new Map<string, Array<{ rps: number; primary: number; workers: number }>>();
for (const set of sets) await load(set.port, 3);
for (let round = 0; round < rounds; round++) {
  for (const set of sets) {
    await load(set.port, 1);
    const pid = set.child.pid!;
    const workers = children(pid);
    const before = [pid, ...workers].map(cpuMicros);
    const result = await load(set.port, seconds);
    const after = [pid, ...workers].map(cpuMicros);
    const answered = result.requests.total - result.non2xx - result.errors;
    const used = after.map((value, index) => value - before[index]!);
    const entry = {
      rps: answered / seconds,
      primary: used[0]! / answered,
      workers: used.slice(1).reduce((sum, value) => sum + value, 0) / answered,
    };
    (figures.get(set.name) ?? figures.set(set.name, []).get(set.name)!).push(entry);
    process.stderr.write(
      `[workers] round ${round + 1} ${set.name}: ${entry.rps.toFixed(0)}/s, primary ${entry.primary.toFixed(0)} µs + workers ${entry.workers.toFixed(0)} µs per request\n`,
    );
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
process.stdout.write(
  '| Set | req/s | CPU per request, all processes (µs) | of which the primary | of which the workers |\n|---|---:|---:|---:|---:|\n',
);
for (const [name, entries] of figures) {
  const total = entries.map((entry) => entry.primary + entry.workers);
  process.stdout.write(
    `| ${name} | ${median(entries.map((entry) => entry.rps)).toFixed(0)} | ${median(total).toFixed(0)} | ${median(entries.map((entry) => entry.primary)).toFixed(0)} | ${median(entries.map((entry) => entry.workers)).toFixed(0)} |\n`,
  );
}
for (const set of sets) {
  set.child.kill('SIGTERM');
  await once(set.child, 'exit');
}
await fake.stop();
rmSync(directory, { recursive: true, force: true });
