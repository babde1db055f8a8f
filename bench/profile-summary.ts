import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Summarises a V8 `.cpuprofile` (from `BENCH_PROFILE=dir npm run bench`, or `node --cpu-prof`):
 * top functions by self time, self time per source file, and inclusive time of the project's
 * own functions (where a request's time goes, callees included).
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile | dir (newest profile)> [top=25]
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [target = '.', topArg = '25'] = process.argv.slice(2);
const file = statSync(target).isDirectory() ? newest(target) : target;
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const top = Number(topArg);

const selfUs = new Map<number, number>();
profile.samples.forEach((id, index) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
});
const total = [...selfUs.values()].reduce((sum, value) => sum + value, 0);
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const idle = new Set(['(idle)', '(program)', '(garbage collector)']);

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of selfUs) {
  const frame = nodes.get(id)!.callFrame;
  const where = shortUrl(frame.url);
  const name =
    `${frame.functionName || '(anonymous)'} ${where ? `${where}:${frame.lineNumber + 1}` : ''}`.trim();
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  const group = idle.has(frame.functionName) ? frame.functionName : where || '(native)';
  byFile.set(group, (byFile.get(group) ?? 0) + us);
}

// Inclusive time of the project's own functions (self + callees), each counted once per sample.
const parents = new Map<number, number>();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parents.set(child, node.id);
const label = (frame: ProfileNode['callFrame']) =>
  `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
    const frame = nodes.get(at)!.callFrame;
    if (!/\/(src|dist|bench)\//.test(frame.url) || frame.url.includes('node_modules')) continue;
    const key = label(frame);
    if (!seen.has(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    seen.add(key);
  }
}

const busy = total - (byFunction.get('(idle)') ?? 0);
const print = (title: string, entries: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, us] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(
      `${(us / 1000).toFixed(0).padStart(8)} ms ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${name}\n`,
    );
  }
};
process.stdout.write(
  `${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle (percentages are of non-idle time)\n`,
);
print('Self time by function', byFunction);
print('Self time by file', byFile);
print('Inclusive time of src/ functions (self + callees)', inclusive);

function newest(dir: string): string {
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  return join(
    dir,
    files.sort((a, b) => statSync(join(dir, b)).mtimeMs - statSync(join(dir, a)).mtimeMs)[0]!,
  );
}

function shortUrl(url: string): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const modules = path.lastIndexOf('node_modules/');
  if (modules !== -1) return path.slice(modules + 'node_modules/'.length);
  return path.startsWith('/') ? relative(process.cwd(), path) : path;
}
