import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayModule } from './built.js';
import { loopDelayHandler, processStats, profilerHandlers, serveIpc } from './ipc.js';

const { createApp } = await gatewayModule<typeof import('../src/app.js')>('app.js');
const { validateConfig } =
  await gatewayModule<typeof import('../src/config/index.js')>('config/index.js');

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
  models: {
    bench: { capabilities: ['tools'], deployments: [{ provider: 'fake', model: 'gpt-bench' }] },
  },
  runtime: { sweepIntervalMs: 0, tools: { allowPrivateNetworks: true, maxSteps: 256 } },
});

const app = await createApp({ config });
const { url } = await app.listen(0, '127.0.0.1');

serveIpc(url, {
  stats: () => processStats(),
  ...loopDelayHandler(),
  ...profilerHandlers(),
  async shutdown() {
    await app.close();
    rmSync(directory, { recursive: true, force: true });
    setImmediate(() => process.exit(0));
    return {};
  },
});
