import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayModule } from './built.js';
import { loopDelayHandler, processStats, profilerHandlers, serveIpc } from './ipc.js';

const { createApp } = await gatewayModule<typeof import('../src/app.js')>('app.js');
const { validateConfig } =
  await gatewayModule<typeof import('../src/config/index.js')>('config/index.js');

/**
 * Switchyard as the benchmark runs it, in its own process: createApp with one `openai`
 * provider pointed at the fake upstream, the SQLite store in a temp dir, and resource figures
 * reported over IPC (no admin route is involved).
 *
 * Environment (set by bench/run.ts):
 * - BENCH_UPSTREAM_URL: the fake upstream's origin. Required.
 * - BENCH_MASTER_KEY: auth.masterKey; clients send it as a bearer token. Default `sk-bench-master`.
 * - BENCH_LOG_LEVEL: logging.level. Default `warn`.
 * - BENCH_UPSTREAM_CONNECTIONS: sockets per upstream origin; unset = the default pool (1024 per origin); set, the provider's `maxConnections`
 *   (256). The runner sets 1024 so that 1,000 concurrent streams really are concurrent upstream.
 *
 * `profile-start` / `profile-stop { path }` run V8's CPU profiler (the one behind `--cpu-prof`)
 * through the inspector, so a profile covers one measured phase rather than startup and tsx.
 */

// tsx turns on source-mapped stack traces; production runs dist/ without them, and formatting a
// stack through source maps (Node streams read `.stack` when destroyed with an error) costs far
// more. BENCH_SOURCE_MAPS=1 keeps them.
if (process.env['BENCH_SOURCE_MAPS'] !== '1') process.setSourceMapsEnabled(false);

const upstream = process.env['BENCH_UPSTREAM_URL'];
if (!upstream) throw new Error('BENCH_UPSTREAM_URL is required');
const directory = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));

// BENCH_UPSTREAM_CONNECTIONS goes through the provider's own `maxConnections`, as a user sets it.
const connections = Number(process.env['BENCH_UPSTREAM_CONNECTIONS'] || Number.NaN);
const maxConnections =
  Number.isInteger(connections) && connections > 0 ? { maxConnections: connections } : {};
const config = validateConfig({
  server: { host: '127.0.0.1', port: 0 },
  store: `sqlite:${join(directory, 'switchyard.db')}`,
  auth: { masterKey: process.env['BENCH_MASTER_KEY'] ?? 'sk-bench-master' },
  logging: { level: process.env['BENCH_LOG_LEVEL'] ?? 'warn' },
  providers: {
    fake: { type: 'openai', baseUrl: `${upstream}/v1`, apiKey: 'sk-upstream', ...maxConnections },
  },
  models: { 'bench-model': { deployments: [{ provider: 'fake', model: 'gpt-bench' }] } },
});

const app = await createApp({ config });
const { url } = await app.listen(0, '127.0.0.1');

// Event-loop delay: synchronous work (SQLite commits, GC) that holds every other request up.

serveIpc(url, {
  stats(message) {
    return processStats(message['gc'] === true);
  },
  ...loopDelayHandler(),
  // Usage group commits so far (the switchyard_usage_commit_events histogram): events and commits.
  async commits() {
    const metric = app.telemetry.metrics?.registry.getSingleMetric(
      'switchyard_usage_commit_events',
    );
    const values = metric ? (await metric.get()).values : [];
    const named = (suffix: string) =>
      values.find((value) => (value as { metricName?: string }).metricName?.endsWith(suffix))
        ?.value ?? 0;
    const sum = named('_sum');
    const count = named('_count');
    return { events: sum, commits: count };
  },
  ...profilerHandlers(),
  async shutdown() {
    await app.close();
    rmSync(directory, { recursive: true, force: true });
    // A normal exit, so `--cpu-prof` writes its profile.
    setImmediate(() => process.exit(0));
    return {};
  },
});
