import { mkdirSync, readFileSync } from 'node:fs';
import { startChild } from './ipc.js';
import { chatLoad, MASTER_KEY } from './load.js';

/**
 * `npx tsx bench/profile-pair.ts`: what Switchyard spends per request beyond the naive proxy,
 * function by function. Both run behind the same fake upstream under the same autocannon load
 * (20 connections, non-streaming, or 200-event streams with BENCH_MODE=stream; BENCH_SECONDS of
 * profiled load after 3 s of warm-up, one after the other); each is profiled with V8's sampling profiler, and the self time of every function
 * is divided by the requests answered during the profile. Prints the main thread's busy µs per
 * request of each, then the functions whose per-request time differs most (Switchyard minus the
 * naive proxy; native frames such as `run`, better-sqlite3's statement execution, and
 * `writev` show under their own names). BENCH_TOP (default 40) sets the rows; BENCH_PROFILE=dir
 * keeps the two .cpuprofile files.
 */

const seconds = Number(process.env['BENCH_SECONDS'] ?? 6);
const stream = process.env['BENCH_MODE'] === 'stream';
const top = Number(process.env['BENCH_TOP'] ?? 40);
const keep = process.env['BENCH_PROFILE'];
const heap = process.env['BENCH_HEAP'] === '1' || process.env['BENCH_HEAP'] === 'survivors';
const survivors = process.env['BENCH_HEAP'] === 'survivors';
const unit = heap ? 'bytes' : 'µs';
if (keep) mkdirSync(keep, { recursive: true });

interface HeapNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: HeapNode[];
}
interface HeapProfile {
  head: HeapNode;
}

interface Profile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string } }>;
  samples: number[];
  timeDeltas: number[];
}

const fake = await startChild('./fake-upstream.ts');
await fake.call('configure', { chunks: stream ? 200 : 10, delayMs: 0 });
const naive = await startChild('./reference-proxy.ts', { env: { BENCH_UPSTREAM_URL: fake.url } });
const gateway = await startChild('./gateway-process.ts', {
  env: { BENCH_UPSTREAM_URL: fake.url, BENCH_MASTER_KEY: MASTER_KEY, BENCH_LOG_LEVEL: 'info' },
});

const perRequest = new Map<string, { busy: number; functions: Map<string, number> }>();
for (const [name, child] of [
  ['naive proxy', naive],
  ['Switchyard', gateway],
] as const) {
  const load = (duration: number) => chatLoad(child.url, { stream, duration });
  await load(3);
  const path = `${keep ?? '/tmp'}/pair-${name.replace(/\W+/g, '-')}-${process.pid}${heap ? '.heapprofile' : '.cpuprofile'}`;
  await child.call(heap ? 'heap-start' : 'profile-start', survivors ? { survivors } : {});
  const result = await load(seconds);
  await child.call(heap ? 'heap-stop' : 'profile-stop', { path });
  if (result.non2xx > 0) throw new Error(`${name}: ${result.non2xx} answers were not 2xx`);
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  perRequest.set(
    name,
    heap
      ? summariseHeap(profile as HeapProfile, result.requests.total)
      : summarise(profile as Profile, result.requests.total),
  );
}
for (const child of [gateway, naive, fake]) await child.stop();

const base = perRequest.get('naive proxy')!;
const ours = perRequest.get('Switchyard')!;
process.stdout.write(
  `${heap ? 'allocated' : 'main thread busy'} per request: naive proxy ${base.busy.toFixed(1)} ${unit}, Switchyard ${ours.busy.toFixed(1)} ${unit}\n\n`,
);
process.stdout.write(`   extra    naive  Switchyard  function (${unit} per request)\n`);
const names = new Set([...base.functions.keys(), ...ours.functions.keys()]);
const rows = [...names]
  .map((name) => {
    const theirs = base.functions.get(name) ?? 0;
    const mine = ours.functions.get(name) ?? 0;
    return { name, extra: mine - theirs, theirs, mine };
  })
  .sort((a, b) => b.extra - a.extra)
  .slice(0, top);
for (const row of rows)
  process.stdout.write(
    `${row.extra.toFixed(2).padStart(8)} ${row.theirs.toFixed(2).padStart(8)} ${row.mine.toFixed(2).padStart(11)}  ${row.name}\n`,
  );
process.exit(0);

function frameName(frame: { functionName: string; url: string }): string {
  const modules = frame.url.lastIndexOf('node_modules/');
  const where =
    modules !== -1
      ? frame.url.slice(modules + 'node_modules/'.length)
      : frame.url.replace(/^file:\/\/.*?\/(dist|src|bench)\//, '$1/');
  return `${frame.functionName || '(anonymous)'} ${where}`.trim();
}

/** Bytes allocated per request by each function (sampled; collected objects included). */
function summariseHeap(
  profile: HeapProfile,
  requests: number,
): { busy: number; functions: Map<string, number> } {
  const functions = new Map<string, number>();
  let total = 0;
  const visit = (node: HeapNode) => {
    total += node.selfSize;
    const name = frameName(node.callFrame);
    functions.set(name, (functions.get(name) ?? 0) + node.selfSize / requests);
    for (const child of node.children) visit(child);
  };
  visit(profile.head);
  return { busy: total / requests, functions };
}

function summarise(
  profile: Profile,
  requests: number,
): { busy: number; functions: Map<string, number> } {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const functions = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, index) => {
    const frame = frames.get(id)!;
    if (frame.functionName === '(idle)') return;
    const us = profile.timeDeltas[index] ?? 0;
    busy += us;
    const name = frameName(frame);
    functions.set(name, (functions.get(name) ?? 0) + us);
  });
  for (const [name, us] of functions) functions.set(name, us / requests);
  return { busy: busy / requests, functions };
}
