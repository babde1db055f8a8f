/**
 * `lowest-net-cost` routing decision (issue 18 item 2): request features, rules, model chain,
 * the request's token estimate (tokenizer), licence and breaker filtering, and the net-cost
 * order at 50 deployments over 10 partners, each with a revenue share whose live totals sit
 * in the accrual cache (as billing keeps them). Nothing here touches the store per decision.
 *
 *   npx tsx bench/net-cost.ts          (BENCH_QUICK=1 for a short run)
 */
import { createAccrualCache, createNetCostSource } from '../src/billing/net-cost.js';
import { validateConfig } from '../src/config/index.js';
import type { ChatRequest } from '../src/core/chat.js';
import type { Principal } from '../src/gateway/types.js';
import { createCatalog } from '../src/router/catalog.js';
import { featuresOf } from '../src/router/features.js';
import { createHealthTracker } from '../src/router/health.js';
import type { NetCostFigure } from '../src/router/net-cost.js';
import { createPolicy } from '../src/router/policy.js';
import { resolveChain } from '../src/router/rules.js';
import type { ClauseRecord } from '../src/store/billing/rows.js';

const quick = process.env['BENCH_QUICK'] === '1';
const principal: Principal = { keyId: 'k', tenantId: 't', projectId: 'p', isMaster: false };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const partners: Record<string, object> = {};
const providers: Record<string, object> = {};
const deployments: object[] = [];
for (let i = 0; i < 50; i++) {
  partners[`p${i % 10}`] ??= {
    primary: i === 0,
    license: { from: '2020-01-01', until: '2032-01-01' },
    revenueShare: { rate: '0.2', cap: '1000', from: '2020-01-01', until: '2031-01-01' },
  };
  providers[`d${i}`] = {
    type: 'openai',
    partner: `p${i % 10}`,
    baseUrl: `http://127.0.0.1:${10000 + i}/v1`,
  };
  deployments.push({
    provider: `d${i}`,
    model: `m-${i}`,
    cost: { input: `0.${i + 10}`, output: '1.00' },
  });
}
const config = validateConfig({
  partners,
  providers,
  models: {
    big: { price: { input: '2.5', output: '10' }, contextWindow: 128000, deployments },
    vision: { deployments: [{ provider: 'd0', model: 'v' }] },
  },
  routing: {
    strategy: 'primary-first',
    rules: [
      { when: { tag: 'never-set' }, model: 'vision' },
      { when: { tag: 'net' }, strategy: 'lowest-net-cost' },
    ],
  },
});
// Ten active clauses, half of them at their cap, as the store would hand them over.
const clauses: ClauseRecord[] = Array.from({ length: 10 }, (_, i) => ({
  id: `c${i}`,
  partner: `p${i}`,
  status: 'active',
  source: 'config',
  ratePpm: 200_000n,
  cap: 1_000_000_000n,
  currency: 'USD',
  startsAt: Date.parse('2020-01-01'),
  endsAt: Date.parse('2031-01-01'),
  basis: 'gross',
  clouds: null,
  models: null,
  clawback: 'reverse',
  basisTotal: 4_000_000_000n + BigInt(i) * 500_000_000n,
  accruedTotal: i % 2 === 0 ? 1_000_000_000n : 900_000_000n,
  termsHash: '',
}));
const cache = createAccrualCache({ load: async () => clauses, now: Date.now });
await cache.refresh();
const catalog = createCatalog(config);
const health = createHealthTracker(Date.now);
const policy = createPolicy({
  routing: config.routing,
  health,
  netCost: createNetCostSource(config, cache),
});
const body: ChatRequest = {
  model: 'big',
  messages: [
    { role: 'system', content: 'You are helpful.' },
    { role: 'user', content: 'Summarise the following text in two sentences. '.repeat(20) },
  ],
  max_tokens: 512,
};
/** One decision; `tags: ['net']` selects lowest-net-cost by the rule, none keeps primary-first. */
const decide = (tags: string[]) => {
  const features = featuresOf(body, tags);
  const chain = resolveChain({
    requested: body.model,
    list: undefined,
    features,
    principal,
    rules: config.routing.rules,
    catalog,
    allowed: () => true,
  });
  if (chain.strategy !== 'lowest-net-cost')
    return policy.plan({ model: chain.models[0]!, now: Date.now() });
  const figures = new Map<string, NetCostFigure>();
  return policy.plan({
    model: chain.models[0]!,
    now: Date.now(),
    strategy: chain.strategy,
    // As the gateway estimates: characters / 4 in, the request's max_tokens out.
    estimate: { inputTokens: Math.ceil(features.inputCharacters / 4), outputTokens: 512 },
    figures,
  });
};
const iterations = quick ? 20_000 : 100_000;
const batch = 100;
const samples: Record<'net' | 'primary', number[]> = { net: [], primary: [] };
for (let i = 0; i < 10_000; i++) decide(i % 2 === 0 ? ['net'] : []);
// Interleaved batches, so a loaded machine slows both alike and the ratio stays meaningful.
for (let i = 0; i < iterations / batch; i++) {
  for (const kind of ['net', 'primary'] as const) {
    const tags = kind === 'net' ? ['net'] : [];
    const start = process.hrtime.bigint();
    for (let j = 0; j < batch; j++) decide(tags);
    samples[kind].push(Number(process.hrtime.bigint() - start) / batch / 1000);
  }
}
for (const kind of ['primary', 'net'] as const) {
  const sorted = samples[kind].sort((a, b) => a - b);
  console.log(
    `decision, ${kind === 'net' ? 'lowest-net-cost (rule action)' : 'primary-first'}, 50 deployments, 10 share clauses: p50 ${percentile(sorted, 50).toFixed(1)} µs, p99 ${percentile(sorted, 99).toFixed(1)} µs`,
  );
}
console.log(`first under lowest-net-cost: ${decide(['net'])[0]!.key}`);
