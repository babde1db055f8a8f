import { readFileSync } from 'node:fs';

/**
 * `npx tsx bench/profile-categories.ts gateway-throughput.cpuprofile`: a V8 CPU profile's busy
 * time by heading (SQLite and store, billing, logging, telemetry, access, undici, Switchyard's
 * request path, Node core, socket-write syscalls, GC), as in docs/benchmarks.md. Native frames
 * count under the nearest caller that has a source URL (better-sqlite3's `run` → SQLite).
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const path = process.argv[2];
if (!path) throw new Error('usage: profile-categories.ts <file.cpuprofile>');
const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parent.set(child, node.id);
const self = new Map<number, number>();
profile.samples.forEach((id, index) => {
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
});

const HEADINGS: Array<[RegExp, string]> = [
  [/better-sqlite3|kysely|dist\/store|src\/store/, 'SQLite and store'],
  [/dist\/billing|src\/billing/, 'billing JS'],
  [/pino|sonic-boom|fast-redact/, 'logging'],
  [/dist\/telemetry|src\/telemetry|prom-client|opentelemetry/, 'telemetry'],
  [/dist\/access|src\/access/, 'access checks'],
  [/undici/, 'undici (upstream client)'],
  [/dist\/|src\//, "Switchyard's request path"],
  [/^node:/, 'Node core JS'],
];
const WRITES = new Set(['writev', 'writeBuffer', 'writeString', 'writeUtf8String']);

function heading(id: number): string | undefined {
  let node = byId.get(id);
  const name = node?.callFrame.functionName ?? '';
  if (name === '(idle)') return undefined;
  if (name === '(garbage collector)') return 'GC';
  if (WRITES.has(name)) return 'socket writes (syscalls)';
  while (node && !node.callFrame.url) {
    const up = parent.get(node.id);
    node = up === undefined ? undefined : byId.get(up);
  }
  const url = node?.callFrame.url ?? '';
  for (const [pattern, title] of HEADINGS) if (pattern.test(url)) return title;
  return 'other (native, program, wasm)';
}

const totals = new Map<string, number>();
let busy = 0;
for (const [id, time] of self) {
  const title = heading(id);
  if (title === undefined) continue;
  totals.set(title, (totals.get(title) ?? 0) + time);
  busy += time;
}
process.stdout.write(`${path}: ${(busy / 1e6).toFixed(1)} s busy\n`);
for (const [title, time] of [...totals].sort((a, b) => b[1] - a[1]))
  process.stdout.write(`${((time / busy) * 100).toFixed(1).padStart(5)}%  ${title}\n`);
