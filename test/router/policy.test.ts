import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { createCatalog } from '../../src/router/catalog.js';
import { createHealthTracker } from '../../src/router/health.js';
import { createPolicy } from '../../src/router/policy.js';

const UNTIL = Date.parse('2032-01-01T00:00:00Z');

function setup(
  strategy: 'primary-first' | 'weighted' | 'least-latency' | 'lowest-cost' = 'primary-first',
  exclusive = false,
) {
  const config = validateConfig({
    partners: {
      azure: { primary: true, license: { from: '2019-07-22', until: '2033-01-01' } },
      aws: { license: { from: '2026-02-27', until: '2032-01-01', exclusive } },
      other: {},
    },
    providers: {
      'azure-east': { type: 'azure-openai', partner: 'azure', baseUrl: 'http://127.0.0.1:1' },
      'bedrock-west': { type: 'bedrock', partner: 'aws', region: 'us-west-2' },
      local: { type: 'openai-compatible', partner: 'other', baseUrl: 'http://127.0.0.1:2/v1' },
    },
    models: {
      m: {
        deployments: [
          { provider: 'local', model: 'm', cost: { input: '0.01', output: '0.01' } },
          {
            provider: 'bedrock-west',
            model: 'openai.m-1:0',
            weight: 3,
            cost: { input: '0.10', output: '0.40' },
          },
          {
            provider: 'azure-east',
            model: 'm',
            weight: 1,
            cost: { input: '0.15', output: '0.60' },
          },
        ],
      },
    },
    routing: { strategy },
  });
  let now = Date.parse('2026-11-26T00:00:00Z');
  const clock = () => now;
  const health = createHealthTracker(clock, { failureThreshold: 2, coolDownMs: 1000 });
  const catalog = createCatalog(config);
  // A small deterministic LCG, so the weighted test is repeatable.
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const policy = createPolicy({ routing: config.routing, health, random });
  return {
    model: catalog.get('m')!,
    health,
    policy,
    setNow: (value: number) => (now = value),
    plan: () =>
      policy.plan({ model: catalog.get('m')!, now }).map((deployment) => deployment.provider),
  };
}

describe('routing policy', () => {
  it('puts the primary partner first under primary-first, then config order', () => {
    expect(setup().plan()).toEqual(['azure-east', 'local', 'bedrock-west']);
  });

  it('uses a licence up to its last millisecond and never at its end', () => {
    const routing = setup();
    routing.setNow(UNTIL - 1);
    expect(routing.plan()).toContain('bedrock-west');
    routing.setNow(UNTIL);
    expect(routing.plan()).not.toContain('bedrock-west');
    routing.setNow(Date.parse('2026-02-27T00:00:00Z') - 1);
    expect(routing.plan()).not.toContain('bedrock-west');
  });

  it('an exclusive licence in force keeps other partners out, and only while in force', () => {
    const routing = setup('primary-first', true);
    expect(routing.plan()).toEqual(['bedrock-west']);
    routing.setNow(UNTIL);
    expect(routing.plan()).toEqual(['azure-east', 'local']);
  });

  it('orders by cost under lowest-cost and by measured latency under least-latency', () => {
    expect(setup('lowest-cost').plan()).toEqual(['local', 'bedrock-west', 'azure-east']);
    const routing = setup('least-latency');
    routing.health.recordSuccess('azure-east/m', { ttfbMs: 50 });
    routing.health.recordSuccess('local/m', { ttfbMs: 200 });
    routing.health.recordSuccess('bedrock-west/openai.m-1:0', { ttfbMs: 10 });
    expect(routing.plan()).toEqual(['bedrock-west', 'azure-east', 'local']);
  });

  it('spreads traffic by weight under weighted', () => {
    const routing = setup('weighted');
    const firsts = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const first = routing.plan()[0]!;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    const share = (name: string) => (firsts.get(name) ?? 0) / 5000;
    // Weights 1 : 3 : 1 → 20% / 60% / 20%.
    expect(share('bedrock-west')).toBeGreaterThan(0.5);
    expect(share('bedrock-west')).toBeLessThan(0.7);
    expect(share('local')).toBeGreaterThan(0.12);
    expect(share('azure-east')).toBeGreaterThan(0.12);
  });

  it('moves an unhealthy deployment to the end, and back when it recovers', () => {
    const routing = setup();
    routing.health.force('azure-east/m', true);
    expect(routing.plan()).toEqual(['local', 'bedrock-west', 'azure-east']);
    routing.health.force('azure-east/m', false);
    expect(routing.plan()[0]).toBe('azure-east');
  });
});
