import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayModule } from './built.js';
import { processStats, profilerHandlers, serveIpc } from './ipc.js';

const { createApp } = await gatewayModule<typeof import('../src/app.js')>('app.js');
const { validateConfig } =
  await gatewayModule<typeof import('../src/config/index.js')>('config/index.js');
const { createTransport } =
  await gatewayModule<typeof import('../src/transport/http.js')>('transport/http.js');

/**
 * Switchyard as the translation benchmark runs it, in its own process (as bench/gateway-process.ts,
 * with two providers on the one fake upstream of bench/translation-upstream.ts):
 * - `oai` (type `openai`) serves `openai-model`: the same-family fast path for OpenAI clients, and
 *   the OpenAI upstream that Anthropic clients reach through /v1/messages;
 * - `aws` (type `bedrock`, Converse, SigV4 with static keys) serves `bedrock-model`.
 *
 * Environment: BENCH_UPSTREAM_URL (required), BENCH_MASTER_KEY, BENCH_LOG_LEVEL (default warn).
 * IPC: `stats`, `profile-start`, `profile-stop { path }`, `shutdown`.
 */

const upstream = process.env['BENCH_UPSTREAM_URL'];
if (!upstream) throw new Error('BENCH_UPSTREAM_URL is required');
const directory = mkdtempSync(join(tmpdir(), 'switchyard-bench-translation-'));

const config = validateConfig({
  server: { host: '127.0.0.1', port: 0 },
  store: `sqlite:${join(directory, 'switchyard.db')}`,
  auth: { masterKey: process.env['BENCH_MASTER_KEY'] ?? 'sk-bench-master' },
  logging: { level: process.env['BENCH_LOG_LEVEL'] ?? 'warn' },
  providers: {
    oai: { type: 'openai', baseUrl: `${upstream}/v1`, apiKey: 'sk-upstream' },
    aws: {
      type: 'bedrock',
      region: 'us-east-1',
      baseUrl: upstream,
      accessKeyId: 'AKIDBENCHMARK',
      secretAccessKey: 'bench-secret',
    },
  },
  models: {
    'openai-model': { deployments: [{ provider: 'oai', model: 'gpt-bench' }] },
    'bedrock-model': {
      deployments: [{ provider: 'aws', model: 'anthropic.claude-3-haiku-20240307-v1:0' }],
    },
  },
});

const transport = createTransport({
  connections: 1024,
  headersTimeoutMs: config.routing.attemptTimeoutMs,
});
const app = await createApp({ config, transport });
const { url } = await app.listen(0, '127.0.0.1');

serveIpc(url, {
  stats(message) {
    return processStats(message['gc'] === true);
  },
  ...profilerHandlers(),
  async shutdown() {
    await app.close();
    await transport.close();
    rmSync(directory, { recursive: true, force: true });
    setImmediate(() => process.exit(0));
    return {};
  },
});
