import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { createCatalog } from '../../src/router/catalog.js';
import { createHealthTracker } from '../../src/router/health.js';
import type { Skip } from '../../src/router/licence-scope.js';
import { createPolicy } from '../../src/router/policy.js';

/** Policy.plan with licence scope, scoped exclusivity, tenant regions and the coverage guard. */

const NOW = Date.parse('2027-06-01T00:00:00Z');

function setup(coverageGuard: 'refuse' | 'alert' | 'off') {
  const config = validateConfig({
    partners: {
      azure: {
        primary: true,
        license: { exclusive: true, apis: ['chat'], regions: ['eu-*'] },
      },
      aws: { license: { apis: ['chat', 'stateful'] } },
      gcp: { license: { models: ['other-model'] } },
    },
    providers: {
      'azure-eu': { type: 'azure-openai', partner: 'azure', baseUrl: 'http://127.0.0.1:1' },
      'bedrock-eu': { type: 'bedrock', partner: 'aws', region: 'eu-central-1' },
      'bedrock-us': { type: 'bedrock', partner: 'aws', region: 'us-east-1' },
      vertex: { type: 'vertex', project: 'p', partner: 'gcp', location: 'europe-west4' },
      direct: { type: 'openai', baseUrl: 'http://127.0.0.1:2/v1' },
    },
    models: {
      m: {
        deployments: [
          { provider: 'azure-eu', model: 'm', region: 'eu-west-1' },
          { provider: 'bedrock-eu', model: 'm' },
          { provider: 'bedrock-us', model: 'm' },
          { provider: 'vertex', model: 'm' },
          { provider: 'direct', model: 'm' },
        ],
      },
    },
    routing: { coverageGuard },
  });
  const model = createCatalog(config).get('m')!;
  const policy = createPolicy({ routing: config.routing, health: createHealthTracker(() => NOW) });
  const plan = (scope: { api?: 'chat' | 'stateful' | 'embeddings'; regions?: string[] }) => {
    const skipped: Skip[] = [];
    const order = policy.plan({ model, now: NOW, ...scope, skipped }).map((d) => d.provider);
    return {
      order,
      skipped: Object.fromEntries(skipped.map((skip) => [skip.deployment.provider, skip.reason])),
    };
  };
  return { plan };
}

describe('licence scope in Policy.plan', () => {
  it('keeps an exclusive licence to its API kinds and regions', () => {
    const { plan } = setup('off');
    // chat: Azure's exclusivity keeps Bedrock EU out, not Bedrock US nor Vertex (europe-west4
    // is not eu-*); a deployment of unknown region counts as inside.
    expect(plan({ api: 'chat' })).toEqual({
      order: ['azure-eu', 'bedrock-us', 'vertex'],
      skipped: {
        'bedrock-eu': 'exclusive licence of azure',
        direct: 'exclusive licence of azure',
      },
    });
    // stateful: Azure's licence does not cover it; its exclusivity does not apply.
    expect(plan({ api: 'stateful' })).toEqual({
      order: ['bedrock-eu', 'bedrock-us', 'vertex', 'direct'],
      skipped: { 'azure-eu': 'licence does not cover stateful' },
    });
    // embeddings: neither Azure nor AWS is licensed for it.
    expect(plan({ api: 'embeddings' }).order).toEqual(['vertex', 'direct']);
  });

  it('takes the region from the provider when the deployment names none, and pins tenants', () => {
    const { plan } = setup('off');
    expect(plan({ api: 'stateful', regions: ['eu-*', 'europe-*'] })).toEqual({
      order: ['bedrock-eu', 'vertex'],
      skipped: {
        'azure-eu': 'licence does not cover stateful',
        'bedrock-us': "region us-east-1 is outside the tenant's regions",
        direct: 'region unknown; tenant is pinned to regions',
      },
    });
  });

  it('coverage guard refuse leaves out partners with no licence for the model', () => {
    const { plan } = setup('refuse');
    expect(plan({ api: 'stateful' })).toEqual({
      order: ['bedrock-eu', 'bedrock-us', 'direct'],
      skipped: {
        'azure-eu': 'licence does not cover stateful',
        vertex: 'no agreement in force (partner gcp has no licence for m)',
      },
    });
    // alert and off do not.
    expect(setup('alert').plan({ api: 'stateful' }).order).toContain('vertex');
  });
});
