import { Redis } from 'ioredis';
import { type AccessModule, createAccess } from '../src/access/index.js';
import { createRateLimits, type RateLimits } from '../src/access/rate-limits.js';
import { validateConfig } from '../src/config/index.js';
import type { ChatRequest } from '../src/core/chat.js';
import { createDatabase, migrate } from '../src/store/index.js';

/**
 * What access adds to a request: key lookup (hash + cache), rate limits (requests and tokens),
 * concurrency and a budget reservation at all three levels (tenant, project, key), then the
 * settle after the answer. Measured one request at a time so each figure is the latency a
 * request pays; memory mode always, Redis mode when Redis answers at $SWITCHYARD_TEST_REDIS or
 * redis://127.0.0.1:6379. Then the sliding-window rate limits alone: the six checks of a request
 * (rpm and tpm at three levels) and its three token corrections.
 *
 *   npx tsx bench/access.ts [iterations]
 *
 * Targets (issue 7): checks ≤ 50 µs p50 in memory, ≤ 1 ms p50 with Redis on loopback.
 */

const iterations = Number(process.argv[2] ?? 20_000);
const masterKey = 'sk-bench-master';
const config = validateConfig({
  store: 'sqlite::memory:',
  auth: { masterKey },
  providers: { up: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
  models: {
    m: { price: { input: '0.15', output: '0.60' }, deployments: [{ provider: 'up', model: 'x' }] },
  },
});
// The system prompt repeats; the user message is new text on every request.
const bodyOf = (i: number): ChatRequest => ({
  model: 'm',
  max_tokens: 256,
  messages: [
    { role: 'system', content: 'You are a helpful assistant that answers briefly.' },
    {
      role: 'user',
      content: `Question ${i}: what is the capital of France, and why is it famous?`,
    },
  ],
});
const usage = { inputTokens: 30, cachedInputTokens: 0, outputTokens: 40, reasoningTokens: 0 };

async function measure(name: string, access: AccessModule): Promise<void> {
  const actor = { actor: 'bench', requestId: null };
  const policy = {
    limits: { rpm: 1_000_000_000, tpm: 2_000_000_000, maxConcurrent: 1_000_000 },
    budget: { amountMicros: 10n ** 15n, period: 'month' as const, mode: 'hard' as const },
  };
  const tenant = await access.admin.createTenant({ name: 'bench', ...policy }, actor);
  const project = await access.admin.createProject(
    { name: 'bench', tenantId: tenant.id, ...policy },
    actor,
  );
  const { secret } = await access.admin.createKey({ projectId: project.id, ...policy }, actor);
  const credential = { kind: 'bearer' as const, token: secret };

  const checks: number[] = [];
  const settles: number[] = [];
  const checksCpu: number[] = [];
  const warmup = Math.min(2000, iterations / 10);
  let cpu = process.cpuUsage();
  for (let i = 0; i < iterations + warmup; i++) {
    if (i === warmup) cpu = process.cpuUsage();
    const requestBody = bodyOf(i);
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    const principal = await access.authenticate(credential, '127.0.0.1');
    const admission = await access.admit({
      requestId: `r${i}`,
      principal,
      model: 'm',
      body: requestBody,
      operation: 'chat',
      now: Date.now(),
    });
    const admitted = process.hrtime.bigint();
    const checkCpu = process.cpuUsage(cpuBefore);
    await admission.settle(usage);
    const settled = process.hrtime.bigint();
    if (i >= warmup) {
      checks.push(Number(admitted - started) / 1000);
      checksCpu.push(checkCpu.user + checkCpu.system);
      settles.push(Number(settled - admitted) / 1000);
    }
  }
  const used = process.cpuUsage(cpu);
  const cpuPerRequest = (used.user + used.system) / iterations;
  const line = (label: string, values: number[]) => {
    values.sort((a, b) => a - b);
    const at = (q: number) =>
      values[Math.min(values.length - 1, Math.floor(q * values.length))]!.toFixed(1);
    return `${label.padEnd(34)} p50 ${at(0.5).padStart(8)} µs   p90 ${at(0.9).padStart(8)} µs   p99 ${at(0.99).padStart(8)} µs`;
  };
  process.stdout.write(
    `${name} (${iterations} requests, 3 levels with rpm, tpm, concurrency and a hard budget)\n`,
  );
  process.stdout.write(`  ${line('lookup + limits + budget reserve', checks)}\n`);
  process.stdout.write(`  ${line('settle (incl. database spend write)', settles)}\n`);
  // CPU time is what this process spent, whatever else the machine runs; wall time is not.
  const checksCpuMean = checksCpu.reduce((a, b) => a + b, 0) / checksCpu.length;
  process.stdout.write(
    `  CPU per request: checks ${checksCpuMean.toFixed(1)} µs, checks + settle ${cpuPerRequest.toFixed(1)} µs\n`,
  );
}

/** The rate limits alone, as admission uses them: six checks at once, then three corrections. */
async function measureRates(name: string, rates: RateLimits): Promise<void> {
  const levels = ['tenant:bench', 'project:bench', 'key:bench'];
  const times: number[] = [];
  const warmup = Math.min(2000, iterations / 10);
  for (let i = 0; i < iterations + warmup; i++) {
    const started = process.hrtime.bigint();
    const results = await Promise.all(
      levels.flatMap((scope) => [
        rates.consume('requests', scope, 1_000_000_000, 1),
        rates.consume('tokens', scope, 2_000_000_000, 300),
      ]),
    );
    await Promise.all(
      levels.map((scope, level) =>
        rates.adjust('tokens', scope, 2_000_000_000, -230, results[level * 2 + 1]!.at),
      ),
    );
    if (i >= warmup) times.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) =>
    times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
  process.stdout.write(
    `${`rate limits only, ${name}`.padEnd(36)} p50 ${at(0.5).padStart(8)} µs   p90 ${at(0.9).padStart(8)} µs   (6 checks + 3 corrections)\n`,
  );
}

const memoryDb = await createDatabase('sqlite::memory:');
await migrate(memoryDb);
const memory = await createAccess({ config, database: memoryDb });
await measure('memory', memory);
await memory.close();
await memoryDb.close();
await measureRates('memory', createRateLimits());

const redisUrl = process.env['SWITCHYARD_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';
const redis = new Redis(redisUrl, {
  lazyConnect: true,
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  retryStrategy: () => null,
});
redis.on('error', () => {});
try {
  await redis.connect();
} catch {
  process.stdout.write(`redis: skipped (not reachable at ${redisUrl})\n`);
  process.exit(0);
}
const redisDb = await createDatabase('sqlite::memory:');
await migrate(redisDb);
const prefix = `switchyard-bench:${process.pid}:`;
const shared = await createAccess({ config, database: redisDb, redis, prefix });
await measure(`redis (${redisUrl})`, shared);
await shared.close();
await measureRates('redis', createRateLimits({ redis, prefix }));
const keys = await redis.keys(`${prefix}*`);
if (keys.length > 0) await redis.del(...keys);
redis.disconnect();
await redisDb.close();
