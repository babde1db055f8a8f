import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/index.js';
import { alternativeConfig, createChooser } from '../../src/whatif/index.js';
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
});
