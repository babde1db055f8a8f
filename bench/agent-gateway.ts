import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createApp } from '../src/app.js';
import { validateConfig } from '../src/config/index.js';
import { processStats, serveIpc } from './ipc.js';

/**
 * Switchyard as bench/agent.ts runs it, in its own process: createApp with the SQLite store in
 * a temp dir, one `openai` provider (model `bench`, with tools) on the fake model of
 * bench/agent-fakes.ts, server-run tools allowed on loopback, and a step cap high enough for
 * the benchmark's runs. IPC: `stats`, `loop-delay`, `profile-start` / `profile-stop {path}`.
 *
 * Environment: BENCH_UPSTREAM_URL (the fakes' origin, required), BENCH_MASTER_KEY,
 * BENCH_LOG_LEVEL (default warn).
 */

// As in bench/gateway-process.ts: production runs dist/ without source-mapped stacks.
if (process.env['BENCH_SOURCE_MAPS'] !== '1') process.setSourceMapsEnabled(false);

const upstream = process.env['BENCH_UPSTREAM_URL'];
if (!upstream) throw new Error('BENCH_UPSTREAM_URL is required');
const directory = mkdtempSync(join(tmpdir(), 'switchyard-bench-agent-'));

const config = validateConfig({
  server: { host: '127.0.0.1', port: 0 },
  store: `sqlite:${join(directory, 'switchyard.db')}`,
  auth: { masterKey: process.env['BENCH_MASTER_KEY'] ?? 'sk-bench-master' },
  logging: { level: process.env['BENCH_LOG_LEVEL'] ?? 'warn' },
  providers: { fake: { type: 'openai', baseUrl: `${upstream}/v1`, apiKey: 'sk-upstream' } },
  models: { bench: { capabilities: ['tools'], deployments: [{ provider: 'fake', model: 'gpt-bench' }] } },
  runtime: { sweepIntervalMs: 0, tools: { allowPrivateNetworks: true, maxSteps: 256 } },
});

const app = await createApp({ config });
const { url } = await app.listen(0, '127.0.0.1');

let profiler: Session | undefined;
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

serveIpc(url, {
  stats: () => processStats(),
  /** Event-loop delay since the last call (ms), then resets. */
  'loop-delay'() {
    const figures = { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
    loopDelay.reset();
    return figures;
  },
  async 'profile-start'() {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    await profiler.post('Profiler.start');
    return {};
  },
  async 'profile-stop'(message) {
    if (!profiler) return {};
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    profiler = undefined;
    writeFileSync(String(message['path']), JSON.stringify(profile));
    return {};
  },
  async shutdown() {
    await app.close();
    rmSync(directory, { recursive: true, force: true });
    setImmediate(() => process.exit(0));
    return {};
  },
});
