import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/index.js';
import { alternativeConfig, createChooser, createDryLedger } from '../../src/whatif/index.js';
import { testConfig, usageEvent } from '../billing/helpers.js';

/** The alternative-agreements file and the replay's routing rule, on their own. */

describe('alternative agreements', () => {
  it('replaces entries by name, removes them with null, and keeps the rest of the config', () => {
    const current = testConfig();
    const alternative = alternativeConfig(
      current,
      [
        'partners:',
        '  aws: null',
        '  gcp: { revenueShare: { rate: "0.05", clouds: [openai] } }',
        'providers:',
        '  bedrock-west: { type: bedrock, region: us-east-1, apiKey: k }',
        'models:',
        '  unit:',
        '    price: { input: "2", output: "2" }',
        '    deployments: [{ provider: openai, model: unit }]',
        '',
      ].join('\n'),
    );
    expect(Object.keys(alternative.partners).sort()).toEqual(['azure', 'gcp']);
    expect(alternative.partners['gcp']?.revenueShare?.rate).toBe('0.05');
    expect(alternative.providers['bedrock-west']?.partner).toBeUndefined();
    expect(alternative.models['unit']?.deployments).toHaveLength(1);
    expect(alternative.models['gpt-oss-120b']).toEqual(current.models['gpt-oss-120b']);
    expect(alternative.routing).toBe(current.routing);
    // The current config is not touched.
    expect(current.partners['aws']).toBeDefined();
  });

  it('refuses what config check refuses, with the path of each problem', () => {
    const current = testConfig();
    let caught: unknown;
    try {
      alternativeConfig(
        current,
        'partners:\n  aws: { primary: true }\n  azure: { primary: true, license: { until: someday } }\n',
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const paths = (caught as ConfigError).problems.map((problem) => problem.path);
    expect(paths).toContain('partners.azure.license.until');
    // Removing a partner a provider still names is a cross-check error.
    expect(() => alternativeConfig(current, 'partners:\n  aws: null\n')).toThrow(
      'unknown partner "aws"',
    );
  });
});

describe('dry-run routing', () => {
  it('draws weighted routes from the request id: the same every run, spread by weight', () => {
    const config = testConfig({ routing: { strategy: 'weighted' } });
    const events = Array.from({ length: 300 }, (_, index) =>
      usageEvent({ requestId: `weighted-${index}` }),
    );
    const first = events.map((event) => createChooser(config)(event)?.key);
    const again = createChooser(config);
    expect(events.map((event) => again(event)?.key)).toEqual(first);
    const counts = new Map<string | undefined, number>();
    for (const key of first) counts.set(key, (counts.get(key) ?? 0) + 1);
    // Three deployments of equal weight: each is first for some requests.
    expect([...counts.keys()].sort()).toEqual([
      'azure-east/unit',
      'bedrock-west/unit-1:0',
      'openai/unit',
    ]);
  });

  it('skips the deployments the request saw fail, and refuses when none is left', () => {
    const choose = createChooser(testConfig());
    const failed = (providers: string[]) =>
      usageEvent({
        attempts: providers.length + 1,
        attemptLog: providers.map((provider) => ({
          provider,
          status: 503,
          errorClass: 'upstream_unavailable',
          ms: 1,
        })),
      });
    expect(choose(usageEvent())?.key).toBe('azure-east/unit');
    expect(choose(failed(['azure-east']))?.key).toBe('bedrock-west/unit-1:0');
    expect(choose(failed(['azure-east', 'bedrock-west', 'openai']))).toBeNull();
    expect(choose(usageEvent({ model: 'no-such-model' }))).toBeNull();
  });

  it('applies licence scope by the surface the request came on, and tenant residency', () => {
    const config = testConfig({
      partners: {
        azure: { primary: true, license: { apis: ['chat', 'embeddings'] } },
        aws: {},
      },
      tenants: { eu: { regions: ['us-west-*'] } },
    });
    const choose = createChooser(config);
    expect(choose(usageEvent({ surface: 'openai-chat' }))?.key).toBe('azure-east/unit');
    // A stored /v1/responses row counts as stateful: azure's licence does not cover it.
    expect(choose(usageEvent({ surface: 'openai-responses' }))?.key).toBe('bedrock-west/unit-1:0');
    // A tenant pinned to us-west-* is served only where a deployment is there.
    expect(choose(usageEvent({ tenantId: 'eu' }))?.key).toBe('bedrock-west/unit-1:0');
  });

  it('orders lowest-net-cost by the shares the replay has accrued so far (a cap reached flips it)', () => {
    const config = testConfig({
      routing: { strategy: 'lowest-net-cost' },
      partners: {
        azure: { primary: true, revenueShare: { rate: '0.9', cap: '0.0003' } },
        aws: { revenueShare: { rate: '0.1' } },
      },
      models: {
        unit: {
          price: { input: '1', output: '1' },
          deployments: [
            { provider: 'azure-east', model: 'unit', cost: { input: '0.5', output: '0.5' } },
            { provider: 'bedrock-west', model: 'unit-1:0', cost: { input: '0.8', output: '0.8' } },
          ],
        },
      },
    });
    const ledger = createDryLedger(config);
    const choose = createChooser(config, ledger);
    // 100 tokens: azure 50 + 90 share = 140 µUSD, bedrock 80 + 10 = 90: bedrock first.
    expect(choose(usageEvent())?.key).toBe('bedrock-west/unit-1:0');
    // 400 tokens served by azure reach its 300 µUSD cap; from then on its share is 0: 50 < 90.
    ledger.post(usageEvent({ inputTokens: 400 }));
    expect(ledger.totals().get('azure')?.accrued).toBe(300n);
    expect(choose(usageEvent())?.key).toBe('azure-east/unit');
  });
});
