import { describe, expect, it } from 'vitest';
import { createAdmitter } from '../../src/access/admission.js';
import type { BudgetCounters } from '../../src/access/budgets.js';
import { createConcurrencyGate } from '../../src/access/concurrency.js';
import type { Level } from '../../src/access/policy.js';
import { createRateLimits } from '../../src/access/rate-limits.js';
import { createPriceBook } from '../../src/billing/prices.js';
import { validateConfig } from '../../src/config/index.js';
import type { Principal } from '../../src/gateway/types.js';

const config = validateConfig({
  providers: { up: { type: 'openai' } },
  models: {
    m: { price: { input: '1', output: '1' }, deployments: [{ provider: 'up', model: 'x' }] },
  },
});
const principal: Principal = { keyId: 'k', tenantId: 't', projectId: 'p', isMaster: false };
const request = (id: string) => ({
  requestId: id,
  principal,
  model: 'm',
  body: { model: 'm', max_tokens: 5, messages: [{ role: 'user' as const, content: 'hi' }] },
  operation: 'chat' as const,
  now: 1,
});

describe('admission when the limits store fails', () => {
  it('answers 503 and gives back the rate-limit points and concurrency slots it took', async () => {
    const rates = createRateLimits();
    const gate = createConcurrencyGate();
    let failing = true;
    const budgets: BudgetCounters = {
      reserve: async () => {
        if (failing) throw new Error('ECONNREFUSED');
        return { ok: true, amount: 0n };
      },
      settle: async () => {},
      state: async () => ({ spent: 0n, reserved: 0n }),
    };
    const admit = createAdmitter({
      config,
      prices: createPriceBook(config.models),
      rates,
      gate,
      budgets,
      ledger: {} as never,
      spend: { add: async () => {} },
    });
    const levels: Level[] = [
      {
        kind: 'key',
        id: 'k',
        policy: {
          limits: { rpm: 1, maxConcurrent: 1 },
          budget: { amountMicros: 1000n, period: 'total', mode: 'hard' },
        },
      },
    ];
    await expect(admit(request('a'), levels)).rejects.toMatchObject({
      status: 503,
      retryAfterMs: 1000,
    });
    failing = false;
    // The failed attempt left neither its request point nor its slot behind.
    const admission = await admit(request('b'), levels);
    expect(admission.headers['x-ratelimit-remaining-requests']).toBe('0');
    await admission.settle(undefined);
  });
});
