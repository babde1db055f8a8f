import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BudgetBucket,
  type BudgetCounters,
  createMemoryBudgets,
  type SpendLoader,
} from '../../src/access/budgets.js';
import { createRedisBudgets } from '../../src/access/budgets-redis.js';
import { redisTestUrl, uniquePrefix } from '../helpers/redis.js';

/** The budget counters, in memory and in Redis: one contract. */

const redisUrl = await redisTestUrl();
if (!redisUrl)
  console.warn(
    'Redis not reachable at redis://127.0.0.1:6379: Redis budget tests skipped. Start Redis or set SWITCHYARD_TEST_REDIS to run them.',
  );

const bucket = (scope: string, limit: bigint, hard = true): BudgetBucket => ({
  scope,
  periodStart: 0,
  periodEnd: Number.POSITIVE_INFINITY,
  limit,
  hard,
});

function contract(name: string, make: (load: SpendLoader, leaseMs?: number) => BudgetCounters) {
  describe(name, () => {
    it('admits exactly what fits when a thousand reservations race', async () => {
      const counters = make(async () => 0n);
      const b = bucket('key:race', 700n);
      const results = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => counters.reserve([b], `r${i}`, 7n, 1)),
      );
      expect(results.filter((result) => result.ok)).toHaveLength(100);
      expect(await counters.state(b)).toEqual({ spent: 0n, reserved: 700n });
    });

    it('reserves in every level or in none', async () => {
      const counters = make(async () => 0n);
      const wide = bucket('tenant:t', 1000n);
      const narrow = bucket('key:k', 10n);
      expect(await counters.reserve([wide, narrow], 'a', 8n, 1)).toEqual({ ok: true, amount: 8n });
      const refused = await counters.reserve([wide, narrow], 'b', 8n, 1);
      expect(refused).toMatchObject({
        ok: false,
        bucket: narrow,
        state: { spent: 0n, reserved: 8n },
      });
      expect(await counters.state(wide)).toEqual({ spent: 0n, reserved: 8n });
    });

    it('settles to the real cost and releases on failure', async () => {
      const counters = make(async () => 0n);
      const b = bucket('key:settle', 100n);
      await counters.reserve([b], 'a', 60n, 1);
      await counters.reserve([b], 'b', 30n, 1);
      await counters.settle([b], 'a', 60n, 45n);
      expect(await counters.state(b)).toEqual({ spent: 45n, reserved: 30n });
      await counters.settle([b], 'b', 30n, 0n);
      expect(await counters.state(b)).toEqual({ spent: 45n, reserved: 0n });
      expect((await counters.reserve([b], 'c', 56n, 1)).ok).toBe(false);
      expect((await counters.reserve([b], 'd', 55n, 1)).ok).toBe(true);
    });

    it('starts from the spend recorded in the database, and soft buckets never refuse', async () => {
      const counters = make(async (scope) => (scope === 'key:seeded' ? 950n : 0n));
      expect((await counters.reserve([bucket('key:seeded', 1000n)], 'a', 51n, 1)).ok).toBe(false);
      expect((await counters.reserve([bucket('key:seeded', 1000n)], 'b', 50n, 1)).ok).toBe(true);
      expect((await counters.reserve([bucket('key:soft', 1n, false)], 'c', 500n, 1)).ok).toBe(true);
    });
  });
}

contract('memory budgets', (load) => createMemoryBudgets(load));

describe.skipIf(!redisUrl)('Redis budgets', () => {
  let redis: Redis;
  const prefix = uniquePrefix('budgets');
  beforeAll(async () => {
    redis = new Redis(redisUrl!, { enableAutoPipelining: true });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  let run = 0;
  contract('contract', (load, leaseMs) =>
    createRedisBudgets({
      redis,
      prefix: `${prefix}${run++}:`,
      load,
      ...(leaseMs ? { leaseMs } : {}),
    }),
  );

  it('drops reservations whose process died once their lease ends', async () => {
    const counters = createRedisBudgets({
      redis,
      prefix: `${prefix}lease:`,
      load: async () => 0n,
      leaseMs: 1000,
    });
    const b = bucket('key:lease', 10n);
    expect((await counters.reserve([b], 'dead', 10n, 1_000)).ok).toBe(true);
    expect((await counters.reserve([b], 'next', 10n, 1_500)).ok).toBe(false);
    expect((await counters.reserve([b], 'next', 10n, 2_001)).ok).toBe(true);
    // The dead reservation settling late does not free anything twice.
    await counters.settle([b], 'dead', 10n, 0n);
    expect(await counters.state(b)).toEqual({ spent: 0n, reserved: 10n });
  });

  it('rebuilds a bucket from the database when Redis lost it', async () => {
    let recorded = 0n;
    const counters = createRedisBudgets({
      redis,
      prefix: `${prefix}lost:`,
      load: async () => recorded,
    });
    const b = bucket('key:lost', 100n);
    await counters.reserve([b], 'a', 40n, 1);
    recorded += 40n; // the caller writes the database first
    await counters.settle([b], 'a', 40n, 40n);
    await redis.del(`${prefix}lost:budget:key:lost:0`, `${prefix}lost:budget:key:lost:0:r`);
    expect((await counters.reserve([b], 'b', 61n, 2)).ok).toBe(false);
    expect((await counters.reserve([b], 'c', 60n, 2)).ok).toBe(true);
    expect(await counters.state(b)).toEqual({ spent: 40n, reserved: 60n });
  });
});
