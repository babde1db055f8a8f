/**
 * Routing microbenchmark (issues 4 and 18): the cost of one routing decision — request
 * features, rules, model chain, licence/health filtering and strategy ordering — at 50
 * deployments, and the time a failover adds after a refused connection. The `scoped` rows give
 * every licence `apis` and `regions`, every deployment a region, one partner an exclusive
 * licence for some API kinds, the coverage guard `refuse`, and the request an API kind and a
 * tenant's pinned regions (issue 18, item 1).
 *
 *   npx tsx bench/routing.ts          (BENCH_QUICK=1 for a short run)
 */
import { request } from 'undici';
import { createApp } from '../src/app.js';
import { validateConfig } from '../src/config/index.js';
import type { ChatRequest } from '../src/core/chat.js';
import type { Principal } from '../src/gateway/types.js';
import { createCatalog } from '../src/router/catalog.js';
import { featuresOf } from '../src/router/features.js';
import { createHealthTracker } from '../src/router/health.js';
import { createPolicy } from '../src/router/policy.js';
import { resolveChain } from '../src/router/rules.js';
import { startOpenAIEmulator } from '../src/sandbox/openai-emulator.js';
import { createLogger } from '../src/telemetry/logger.js';
import { closedPort } from '../test/fakes/upstream.js';

const quick = process.env['BENCH_QUICK'] === '1';
const principal: Principal = { keyId: 'k', tenantId: 't', projectId: 'p', isMaster: false };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const REGIONS = ['eastus', 'westeurope', 'us-west-2', 'eu-central-1', 'ap-southeast-2'];

async function decisionCost(
  strategy: 'primary-first' | 'weighted' | 'least-latency' | 'lowest-cost',
  scoped = false,
) {
  const partners: Record<string, object> = {
    p0: scoped
      ? {
          primary: true,
          license: {
            from: '2019-01-01',
            until: '2033-01-01',
            exclusive: true,
            apis: ['embeddings', 'batch'],
            regions: ['eastus', 'westeurope'],
          },
        }
      : { primary: true, license: { from: '2019-01-01', until: '2033-01-01' } },
  };
  const providers: Record<string, object> = {};
  const deployments: object[] = [];
  for (let i = 0; i < 50; i++) {
    partners[`p${i}`] ??= {
      license: scoped
        ? {
            from: '2020-01-01',
            until: '2032-01-01',
            models: ['big', 'vision'],
            apis: i % 2 === 0 ? ['chat', 'responses'] : ['chat', 'responses', 'stateful'],
            regions: ['us-*', 'eastus', 'eu-*', 'westeurope'],
          }
        : { from: '2020-01-01', until: '2032-01-01' },
      // Commitments (issue 18 item 3): some partners have committed spend.
      ...(i % 3 === 0 && { commitment: { spend: '1000' } }),
    };
    providers[`d${i}`] = {
      type: 'openai',
      partner: `p${i % 10}`,
      baseUrl: `http://127.0.0.1:${10000 + i}/v1`,
    };
    deployments.push({
      provider: `d${i}`,
      model: `m-${i}`,
      weight: 1 + (i % 3),
      cost: { input: `0.${i + 10}`, output: '1.00' },
      // Every fifth deployment has reserved capacity (PTU-like).
      ...(i % 5 === 0 && { reservedTpm: 100_000 }),
      ...(scoped && { region: REGIONS[i % REGIONS.length] }),
    });
  }
  const config = validateConfig({
    partners,
    providers,
    models: {
      big: { contextWindow: 128000, capabilities: ['tools', 'vision', 'json_schema'], deployments },
      vision: {
        deployments: [{ provider: 'd0', model: 'v', ...(scoped && { region: 'eastus' }) }],
      },
    },
    routing: {
      strategy,
      ...(scoped && { coverageGuard: 'refuse' }),
      rules: [
        { when: { tag: 'never-set' }, model: 'vision' },
        { when: { maxInputTokens: 10, tag: 'cheap' }, model: 'vision' },
      ],
    },
  });
  const catalog = createCatalog(config);
  const health = createHealthTracker(Date.now);
  for (let i = 0; i < 50; i += 7)
    health.recordFailure(
      `d${i}/m-${i}`,
      Object.assign(new Error('x'), {
        errorClass: 'server_error',
        code: 'upstream_error',
        retryAfterMs: undefined,
      }) as never,
    );
  for (let i = 0; i < 50; i++) health.recordSuccess(`d${i}/m-${i}`, { ttfbMs: 10 + i });
  // Reserved capacity's local view (one deployment full) and the commitment cache, as wired.
  const policy = createPolicy({
    routing: config.routing,
    health,
    capacity: {
      full: (key) => key === 'd5/m-5',
      take: async () => true,
      exhausted: () => {},
    },
    commitments: { open: (partner) => partner !== 'p3' },
  });
  const body: ChatRequest = {
    model: 'big',
    messages: [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'Summarise the following text in two sentences. '.repeat(20) },
    ],
    max_tokens: 512,
  };
  // A stateful request of a tenant pinned to US and EU regions (gateway/create-gateway.ts scopeOf).
  const scope = { api: 'stateful' as const, regions: ['us-*', 'eu-*'] };
  if (scoped && policy.plan({ model: catalog.get('big')!, now: Date.now(), ...scope }).length === 0)
    throw new Error('the scoped model must keep some deployments');
  const iterations = quick ? 20_000 : 200_000;
  const decide = () => {
    const features = featuresOf(body, []);
    const chain = resolveChain({
      requested: body.model,
      list: undefined,
      features,
      principal,
      rules: config.routing.rules,
      catalog,
      allowed: () => true,
    });
    return scoped
      ? policy.plan({ model: chain.models[0]!, now: Date.now(), ...scope, skipped: [] })
      : policy.plan({ model: chain.models[0]!, now: Date.now() });
  };
  for (let i = 0; i < 20_000; i++) decide();
  const samples: number[] = [];
  const batch = 100;
  for (let i = 0; i < iterations / batch; i++) {
    const start = process.hrtime.bigint();
    for (let j = 0; j < batch; j++) decide();
    samples.push(Number(process.hrtime.bigint() - start) / batch / 1000);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function failoverCost() {
  const emulator = await startOpenAIEmulator({ flavor: 'openai' });
  const refused = await closedPort();
  const make = (deployments: object[]) =>
    validateConfig({
      store: 'sqlite::memory:',
      logging: { level: 'silent' },
      providers: {
        down: { type: 'openai', baseUrl: `http://127.0.0.1:${refused}/v1` },
        up: { type: 'openai', baseUrl: `${emulator.url}/v1` },
      },
      models: { m: { deployments } },
      routing: { retries: 1 },
    });
  const logger = createLogger({ level: 'silent' });
  const direct = await createApp({ config: make([{ provider: 'up', model: 'm' }]), logger });
  const failing = await createApp({
    config: make([
      { provider: 'down', model: 'm' },
      { provider: 'up', model: 'm' },
    ]),
    logger,
  });
  // Keep the refused deployment first every time: the breaker would otherwise learn to skip it.
  failing.health.recordFailure = () => {};
  const directUrl = (await direct.listen(0, '127.0.0.1')).url;
  const failingUrl = (await failing.listen(0, '127.0.0.1')).url;
  const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  const time = async (url: string) => {
    const start = process.hrtime.bigint();
    const response = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await response.body.text();
    if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  const rounds = quick ? 200 : 2000;
  for (let i = 0; i < 100; i++) {
    await time(directUrl);
    await time(failingUrl);
  }
  const plain: number[] = [];
  const withFailover: number[] = [];
  for (let i = 0; i < rounds; i++) {
    plain.push(await time(directUrl));
    withFailover.push(await time(failingUrl));
  }
  plain.sort((a, b) => a - b);
  withFailover.sort((a, b) => a - b);
  await Promise.all([direct.close(), failing.close(), emulator.close()]);
  return {
    plainP50: percentile(plain, 50),
    failoverP50: percentile(withFailover, 50),
    addedP50: percentile(withFailover, 50) - percentile(plain, 50),
    addedP99: percentile(withFailover, 99) - percentile(plain, 99),
  };
}

const rows: string[] = [];
for (const [strategy, scoped] of [
  ['primary-first', false],
  ['weighted', false],
  ['least-latency', false],
  ['lowest-cost', false],
  ['primary-first', true],
  ['weighted', true],
  ['least-latency', true],
  ['lowest-cost', true],
] as const) {
  const cost = await decisionCost(strategy, scoped);
  rows.push(
    `routing decision, 50 deployments, ${strategy.padEnd(13)}${scoped ? ' scoped' : '       '}  p50 ${cost.p50.toFixed(2)} µs  p99 ${cost.p99.toFixed(2)} µs  (target ≤ 20 µs)  ${cost.p50 <= 20 ? 'MET' : 'MISSED'}`,
  );
}
const failover = await failoverCost();
rows.push(
  `failover after a refused connection adds  p50 ${failover.addedP50.toFixed(2)} ms  p99 ${failover.addedP99.toFixed(2)} ms  (plain p50 ${failover.plainP50.toFixed(2)} ms; target ≤ 5 ms)  ${failover.addedP50 <= 5 ? 'MET' : 'MISSED'}`,
);
console.log(rows.join('\n'));
