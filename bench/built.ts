import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The gateway as users run it: the benchmark's gateway processes load the compiled `dist/`
 * (`npm start` runs it), not `src/` through tsx. tsx compiles with esbuild's `keepNames`, which
 * wraps every nested function in `__name(fn, "name")`, an `Object.defineProperty` each time a
 * closure is created (0.25 µs apiece on this machine); code that makes several closures per
 * request, such as the telemetry hooks, looked dearer under tsx than it is in production.
 *
 * BENCH_SOURCE=1 loads `src/` through tsx instead (source file names in CPU profiles).
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let checked = false;

/** True when the children load `src/` (BENCH_SOURCE=1). */
export const fromSource = process.env['BENCH_SOURCE'] === '1';

/**
 * Runner side: compiles `src/` into `dist/` (`tsc -p tsconfig.build.json`, as `npm run build`)
 * when any source file is newer than the build, once per runner process.
 */
export function ensureBuilt(): void {
  if (checked || fromSource) return;
  checked = true;
  if (newest(join(ROOT, 'src')) <= builtAt()) return;
  process.stderr.write('[bench] compiling src/ into dist/ (the gateway runs as built)\n');
  const result = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')],
    { stdio: 'inherit' },
  );
  if (result.status !== 0)
    throw new Error('tsc -p tsconfig.build.json failed; the benchmark needs a built gateway');
}

/**
 * Child side: a module of the gateway, from `dist/` (or `src/` with BENCH_SOURCE=1), typed as its
 * source: `await gatewayModule<typeof import('../src/app.js')>('app.js')`.
 */
export async function gatewayModule<T>(path: string): Promise<T> {
  return (await import(pathToFileURL(join(ROOT, fromSource ? 'src' : 'dist', path)).href)) as T;
}

function builtAt(): number {
  try {
    return statSync(join(ROOT, 'dist/app.js')).mtimeMs;
  } catch {
    return 0;
  }
}

function newest(directory: string): number {
  let latest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}
