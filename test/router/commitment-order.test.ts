import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { createCatalog } from '../../src/router/catalog.js';
import type { ReservedCapacity } from '../../src/router/commitments.js';
import { createHealthTracker } from '../../src/router/health.js';
import { createPolicy } from '../../src/router/policy.js';
import { GatewayError } from '../../src/errors/index.js';

/**
 * `Policy.plan` with commitments: reserved capacity with room first, then the deployments of
 * partners with an open spend commitment, then pay-as-you-go in the strategy's order, then
 * reserved capacity known to be full; unhealthy deployments stay last whatever they reserve.
 */

function setup() {
  const config = validateConfig({
    partners: {
      azure: { primary: true },
      aws: { commitment: { spend: '1000' } },
      other: {},
    },
    providers: {
      azure: { type: 'azure-openai', partner: 'azure', baseUrl: 'http://127.0.0.1:1' },
      bedrock: { type: 'bedrock', partner: 'aws', region: 'us-west-2' },
      local: { type: 'openai-compatible', partner: 'other', baseUrl: 'http://127.0.0.1:2/v1' },
    },
    models: {
      m: {
        deployments: [
          { provider: 'local', model: 'm' },
          { provider: 'bedrock', model: 'm-1:0' },
          { provider: 'azure', model: 'm' },
          { provider: 'azure', model: 'm-ptu', reservedTpm: 50_000 },
        ],
      },
      plain: {
        deployments: [
          { provider: 'local', model: 'p' },
          { provider: 'azure', model: 'p' },
        ],
      },
    },
  });
  const now = Date.parse('2026-11-26T00:00:00Z');
  const health = createHealthTracker(() => now, { failureThreshold: 1, coolDownMs: 60_000 });
  const full = new Set<string>();
  const capacity: ReservedCapacity = {
    full: (key) => full.has(key),
    take: async () => true,
    exhausted: (key) => void full.add(key),
  };
  const closed = new Set<string>();
  const policy = createPolicy({
    routing: config.routing,
    health,
    capacity,
    commitments: { open: (partner) => !closed.has(partner) },
  });
  const catalog = createCatalog(config);
  const plan = (model = 'm') =>
    policy.plan({ model: catalog.get(model)!, now }).map((item) => item.key);
  return { plan, full, closed, health };
}

describe('commitments in the routing plan', () => {
  it('fills reserved capacity, then open commitments, then pay-as-you-go in strategy order', () => {
    const routing = setup();
    expect(routing.plan()).toEqual(['azure/m-ptu', 'bedrock/m-1:0', 'azure/m', 'local/m']);
    // Reserved capacity used up: last resort.
    routing.full.add('azure/m-ptu');
    expect(routing.plan()).toEqual(['bedrock/m-1:0', 'azure/m', 'local/m', 'azure/m-ptu']);
    // The commitment is consumed: back to primary-first.
    routing.closed.add('aws');
    expect(routing.plan()).toEqual(['azure/m', 'local/m', 'bedrock/m-1:0', 'azure/m-ptu']);
    // A model without commitments keeps its plain order.
    expect(routing.plan('plain')).toEqual(['azure/p', 'local/p']);
  });

  it('keeps an unhealthy reserved deployment behind the healthy ones', () => {
    const routing = setup();
    routing.health.recordFailure(
      'azure/m-ptu',
      new GatewayError('down', { code: 'upstream_error', status: 502, errorClass: 'server_error' }),
    );
    expect(routing.plan()).toEqual(['bedrock/m-1:0', 'azure/m', 'local/m', 'azure/m-ptu']);
  });
});
