import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, startChild } from './ipc.js';
import { chatLoad, MASTER_KEY } from './load.js';

/**
 * `npx tsx bench/instructions.ts`: machine instructions per request, counted by valgrind's
 * callgrind in every thread of the process (the main thread, the GC's helpers, SQLite's
 * checkpoint thread), for the naive proxy and Switchyard behind the same fake upstream, and the
 * ratio. CPU seconds on a shared host moved by up to 40% from one round to the next; an
 * instruction count repeats within a few percent, so a change of 5% shows in one run.
 * Instructions are not time (cache misses and syscalls' kernel time are not in them): compare.ts
 * stays the measure of CPU and throughput, this one of whether a change did less work.
 *
 * Each target runs under `valgrind --tool=callgrind` (about 50× slower), takes BENCH_WARM
 * requests (default 600) to warm its JIT, then BENCH_REQUESTS (default 1,500) at 20
 * connections, counted alone (callgrind_control dumps before and after). BENCH_MODE=stream
 * sends 200-event streams. BENCH_BASELINE=<checkout> adds that checkout's gateway (built).
 * Needs valgrind (Debian's package).
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

const directory = mkdtempSync(join(tmpdir(), 'switchyard-instructions-'));
const callgrind = (label: string) => [
  'valgrind',
  '--tool=callgrind',
  '--collect-atstart=yes',
  '--smc-check=all-non-file',
  '--dump-instr=no',
  `--callgrind-out-file=${join(directory, `${label}.%p`)}`,
];

/** Total `Ir` of the last dump callgrind wrote for `pid`. */
function lastDump(label: string, pid: number): number {
  // Dumps are `<label>.<pid>.<n>`: the last has the highest n.
  const prefix = `${label}.${pid}.`;
  const dumps = readdirSync(directory)
    .filter((name) => name.startsWith(prefix))
    .map((name) => Number(name.slice(prefix.length)))
    .sort((a, b) => a - b);
  const file = `${prefix}${dumps.at(-1)}`;
  const text = readFileSync(join(directory, file), 'utf8');
  const totals = /^(?:totals|summary): (\d+)/m.exec(text);
  if (!totals) throw new Error(`no totals in ${file}`);
  return Number(totals[1]);
}

async function measure(label: string, child: Child): Promise<number> {
  const pid = child.process.pid!;
  const run = (amount: number) => chatLoad(child.url, { stream, amount, timeout: 120 });
  await run(warm);
  execFileSync('callgrind_control', ['--dump=warm', String(pid)], { stdio: 'ignore' });
  const result = await run(requests);
  execFileSync('callgrind_control', ['--dump=measured', String(pid)], { stdio: 'ignore' });
  const ok = result['2xx'];
  if (ok !== requests) throw new Error(`${label}: ${ok} of ${requests} answered 2xx`);
  const perRequest = lastDump(label, pid) / ok;
  console.error(
    `[instructions] ${label}: ${(perRequest / 1000).toFixed(0)} k instructions per ${stream ? 'stream' : 'request'}`,
  );
  await child.stop();
  return perRequest;
}

const fake = await startChild('./fake-upstream.ts');
await fake.call('configure', { chunks: stream ? 200 : 10, delayMs: 0 });
const targets: Array<[string, () => Promise<Child>]> = [
  [
    'naive',
    () =>
      startChild('./reference-proxy.ts', {
        env: { BENCH_UPSTREAM_URL: fake.url },
        wrapper: callgrind('naive'),
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
      }),
  ]);
const figures = new Map<string, number>();
for (const [label, start] of targets) figures.set(label, await measure(label, await start()));
await fake.stop();
rmSync(directory, { recursive: true, force: true });

const naive = figures.get('naive')!;
console.log(`| Target | instructions per ${stream ? 'stream' : 'request'} | × naive |`);
console.log('|---|---:|---:|');
for (const [label, value] of figures)
  console.log(`| ${label} | ${(value / 1000).toFixed(0)} k | ${(value / naive).toFixed(2)} |`);
if (baseline)
  console.log(
    `\nSwitchyard against the baseline: × ${(figures.get('switchyard')! / figures.get('baseline')!).toFixed(3)}`,
  );
process.exit(0);
