import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, startChild } from './ipc.js';
import { chatLoad, MASTER_KEY } from './load.js';

/**
 * `npx tsx bench/instructions.ts`: machine instructions per request, counted by valgrind's
 * callgrind in every thread of the process (the main thread, the GC's helpers, SQLite's
 * checkpoint thread), for the naive proxy and Switchyard behind the same fake upstream, and the
 * ratio, and the same for the main thread alone (the event loop). CPU seconds on a shared host
 * moved by up to 40% from one round to the next, and by 2× on another host of the same kind; an
 * instruction count repeats better. The count of every thread includes V8's optimizing
 * compiler, which still works on background threads long after a warm-up that valgrind can
 * afford (its share of the measured part varied from one run to the next: 3,392 k and 4,163 k
 * per stream for the same build), so the main thread's count is the steadier of the two.
 * Instructions are not time (cache misses and syscalls' kernel time are not in them): compare.ts
 * stays the measure of CPU and throughput, this one of whether a change did less work.
 *
 * Each target runs under `valgrind --tool=callgrind` (about 50× slower), takes BENCH_WARM
 * requests (default 600) to warm its JIT, then BENCH_REQUESTS (default 1,500) at 20
 * connections, counted alone (callgrind_control dumps before and after). BENCH_MODE=stream
 * sends 200-event streams. BENCH_BASELINE=<checkout> adds that checkout's gateway (built);
 * BENCH_NODE_FLAGS=--single-threaded keeps V8's compiler and GC on the main thread (below).
 * BENCH_KEEP=<dir> keeps callgrind's files there (`<label>.<pid>.<n>-<thread>`, the highest n is
 * the measured part), for `callgrind_annotate --inclusive=no <file>`: instructions by native function, with
 * V8's generated code under `???`. Needs valgrind (Debian's package).
 */

const stream = process.env['BENCH_MODE'] === 'stream';
const warm = Number(process.env['BENCH_WARM'] ?? 600);
const requests = Number(process.env['BENCH_REQUESTS'] ?? 1500);
const baseline = process.env['BENCH_BASELINE'];

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('bench/instructions.ts needs valgrind (apt-get install valgrind)');
  process.exit(1);
}

const keep = process.env['BENCH_KEEP'];
if (keep) mkdirSync(keep, { recursive: true });
const directory = keep ?? mkdtempSync(join(tmpdir(), 'switchyard-instructions-'));
const callgrind = (label: string) => [
  'valgrind',
  '--tool=callgrind',
  '--collect-atstart=yes',
  '--smc-check=all-non-file',
  '--dump-instr=no',
  '--separate-threads=yes',
  `--callgrind-out-file=${join(directory, `${label}.%p`)}`,
];

/** Instructions of one measured part: in every thread, and in the main thread alone. */
interface Counted {
  all: number;
  main: number;
}

/**
 * `Ir` of the last dump callgrind wrote for `pid`, summed over its threads. With
 * `--separate-threads=yes` each dump is one file per thread, `<label>.<pid>.<n>-<thread>`;
 * thread 01 is the main thread (the event loop), the others V8's compiler and GC helpers,
 * SQLite's and libuv's.
 */
function lastDump(label: string, pid: number): Counted {
  const prefix = `${label}.${pid}.`;
  const files = readdirSync(directory)
    .filter((name) => name.startsWith(prefix))
    .map((name) => {
      const [part, thread] = name.slice(prefix.length).split('-');
      return { name, part: Number(part), thread: Number(thread) };
    });
  const last = Math.max(...files.map((file) => file.part));
  const counted: Counted = { all: 0, main: 0 };
  for (const file of files.filter((candidate) => candidate.part === last)) {
    const text = readFileSync(join(directory, file.name), 'utf8');
    const totals = /^(?:totals|summary): (\d+)/m.exec(text);
    if (!totals) throw new Error(`no totals in ${file.name}`);
    counted.all += Number(totals[1]);
    if (file.thread === 1) counted.main += Number(totals[1]);
  }
  return counted;
}

async function measure(label: string, child: Child): Promise<Counted> {
  const pid = child.process.pid!;
  const run = (amount: number) => chatLoad(child.url, { stream, amount, timeout: 120 });
  await run(warm);
  execFileSync('callgrind_control', ['--dump=warm', String(pid)], { stdio: 'ignore' });
  const result = await run(requests);
  execFileSync('callgrind_control', ['--dump=measured', String(pid)], { stdio: 'ignore' });
  const ok = result['2xx'];
  if (ok !== requests) throw new Error(`${label}: ${ok} of ${requests} answered 2xx`);
  const counted = lastDump(label, pid);
  const perRequest = { all: counted.all / ok, main: counted.main / ok };
  console.error(
    `[instructions] ${label}: ${(perRequest.all / 1000).toFixed(0)} k instructions per ${stream ? 'stream' : 'request'}, ${(perRequest.main / 1000).toFixed(0)} k in the main thread`,
  );
  await child.stop();
  return perRequest;
}

/**
 * BENCH_NODE_FLAGS: node flags for the measured processes. `--single-threaded` makes V8 compile
 * and collect on the main thread, when it decides to: the count no longer depends on how far
 * the background compiler got before the measured part, which moved it by ±10–25% between runs.
 * Most runs of one build then agree within 1% (887 k and 888 k in the main thread), but not all:
 * one of three runs of the same build came out 26% higher (1,119 k). Take each figure twice.
 */
const nodeFlags = (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);

const fake = await startChild('./fake-upstream.ts');
await fake.call('configure', { chunks: stream ? 200 : 10, delayMs: 0 });
const targets: Array<[string, () => Promise<Child>]> = [
  [
    'naive',
    () =>
      startChild('./reference-proxy.ts', {
        env: { BENCH_UPSTREAM_URL: fake.url },
        wrapper: callgrind('naive'),
        nodeFlags,
      }),
  ],
  [
    'switchyard',
    () =>
      startChild('./gateway-process.ts', {
        env: {
          BENCH_UPSTREAM_URL: fake.url,
          BENCH_MASTER_KEY: MASTER_KEY,
          BENCH_LOG_LEVEL: 'info',
        },
        wrapper: callgrind('switchyard'),
        nodeFlags,
      }),
  ],
];
if (baseline)
  targets.push([
    'baseline',
    () =>
      startChild(join(baseline, 'bench/gateway-process.ts'), {
        env: {
          BENCH_UPSTREAM_URL: fake.url,
          BENCH_MASTER_KEY: MASTER_KEY,
          BENCH_LOG_LEVEL: 'info',
        },
        wrapper: callgrind('baseline'),
        nodeFlags,
      }),
  ]);
const figures = new Map<string, Counted>();
for (const [label, start] of targets) figures.set(label, await measure(label, await start()));
await fake.stop();
if (keep) console.error(`[instructions] callgrind files kept in ${keep}`);
else rmSync(directory, { recursive: true, force: true });

const naive = figures.get('naive')!;
const unit = stream ? 'stream' : 'request';
console.log(`| Target | instructions per ${unit} | × naive | main thread | × naive |`);
console.log('|---|---:|---:|---:|---:|');
for (const [label, value] of figures)
  console.log(
    `| ${label} | ${(value.all / 1000).toFixed(0)} k | ${(value.all / naive.all).toFixed(2)} | ${(value.main / 1000).toFixed(0)} k | ${(value.main / naive.main).toFixed(2)} |`,
  );
if (baseline) {
  const ours = figures.get('switchyard')!;
  const theirs = figures.get('baseline')!;
  console.log(
    `\nSwitchyard against the baseline: × ${(ours.all / theirs.all).toFixed(3)} in all threads, × ${(ours.main / theirs.main).toFixed(3)} in the main thread`,
  );
}
process.exit(0);
