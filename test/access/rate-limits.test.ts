import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createRateLimits,
  type RateLimits,
  type RateLimitsOptions,
} from '../../src/access/rate-limits.js';
import { redisTestUrl, uniquePrefix } from '../helpers/redis.js';

/**
 * The sliding-window rate limits (issue 7), in memory and in Redis, driven by a controlled
 * clock (slot indices come from the caller's clock in both, so Redis runs the same scenarios).
 */

const redisUrl = await redisTestUrl();
if (!redisUrl)
  console.warn('Redis not reachable at redis://127.0.0.1:6379: Redis rate-limit tests skipped.');
const clients: Redis[] = [];
afterAll(async () => {
  for (const client of clients) {
    const keys = await client.keys('switchyard-test:rates:*');
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  }
});

async function redisClient(): Promise<Redis> {
  const client = new Redis(redisUrl!, { maxRetriesPerRequest: 1 });
  clients.push(client);
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
  return client;
}

// A minute boundary, so the fixed windows of the old algorithm would start here.
const T0 = Date.parse('2026-03-18T12:00:00Z');
const MINUTE = 60_000;

interface Setup {
  rates: RateLimits;
  clock: { now: number };
}
type Factory = (options?: Partial<RateLimitsOptions>) => Promise<Setup>;

const memory: Factory = async (options = {}) => {
  const clock = { now: T0 };
  return { clock, rates: createRateLimits({ clock: () => clock.now, ...options }) };
};
// Every Redis check must run in Redis: a failing script would otherwise be hidden by the memory fallback.
const redisErrors: unknown[] = [];
const onError = (error: unknown) => redisErrors.push(error);
afterEach(() => expect(redisErrors).toEqual([]));
const redis: Factory = async (options = {}) => {
  const clock = { now: T0 };
  return {
    clock,
    rates: createRateLimits({
      redis: await redisClient(),
      prefix: uniquePrefix('rates'),
      clock: () => clock.now,
      onError,
      ...options,
    }),
  };
};
const backends: Array<[string, Factory, boolean]> = [
  ['memory', memory, false],
  ['redis', redis, !redisUrl],
];

/** Counts, for every admitted instant, how many admissions fall in the `span` ms ending there. */
function busiestSpan(admittedAt: number[], span: number): number {
  let busiest = 0;
  for (const end of admittedAt)
    busiest = Math.max(busiest, admittedAt.filter((t) => t > end - span && t <= end).length);
  return busiest;
}

for (const [name, create, skip] of backends) {
  describe.skipIf(skip)(`sliding-window rate limits (${name})`, () => {
    it('bursts at the end of one minute and the start of the next pass only the limit in any 60 s span', async () => {
      const { rates, clock } = await create();
      const limit = 10;
      const admittedAt: number[] = [];
      const tryAt = async (at: number) => {
        clock.now = at;
        const result = await rates.consume('requests', 'key:burst', limit, 1);
        if (result.ok) admittedAt.push(at);
        return result;
      };
      // One request opens the minute (a fixed window would start here), nine come at its very
      // end, then ten at the start of the next minute: a fixed window admits all twenty within
      // 0.2 s; the sliding window refuses the ten.
      expect((await tryAt(T0)).ok).toBe(true);
      for (let i = 1; i < limit; i++) expect((await tryAt(T0 + MINUTE - 100)).ok).toBe(true);
      for (let i = 0; i < limit; i++) expect((await tryAt(T0 + MINUTE + 100)).ok).toBe(false);
      // Then a greedy client sends every 250 ms until refused, for four more minutes.
      for (let at = T0 + MINUTE + 250; at < T0 + 5 * MINUTE; at += 250)
        while ((await tryAt(at)).ok);
      expect(busiestSpan(admittedAt, MINUTE)).toBe(limit);
      // A limit, not a lockout: points come back as their one-second slot leaves, 60-61 s on.
      expect(admittedAt.filter((at) => at > T0 + MINUTE)[0]).toBe(T0 + MINUTE + 1000);
      expect(admittedAt.length).toBeGreaterThanOrEqual(4 * limit);
    });

    it('steady traffic after a burst cannot pass twice the limit in a minute (the sliding-window counter could)', async () => {
      const { rates, clock } = await create();
      const limit = 60;
      const admittedAt: number[] = [];
      clock.now = T0 + MINUTE - 500;
      for (let i = 0; i < limit; i++)
        if ((await rates.consume('requests', 'key:steady', limit, 1)).ok)
          admittedAt.push(clock.now);
      for (let at = T0 + MINUTE; at < T0 + 2 * MINUTE + 10_000; at += 100) {
        clock.now = at;
        if ((await rates.consume('requests', 'key:steady', limit, 1)).ok) admittedAt.push(at);
      }
      expect(admittedAt.length).toBeGreaterThan(limit);
      expect(busiestSpan(admittedAt, MINUTE)).toBe(limit);
    });

    it('retry-after is when enough capacity frees for the same request, and refused points are not counted', async () => {
      const { rates, clock } = await create();
      const limit = 100;
      expect(await rates.consume('tokens', 'key:retry', limit, 60)).toMatchObject({
        ok: true,
        state: { limit, remaining: 40 },
      });
      clock.now = T0 + 10_000;
      expect(await rates.consume('tokens', 'key:retry', limit, 30)).toMatchObject({
        ok: true,
        state: { remaining: 10 },
      });
      clock.now = T0 + 20_000;
      const refused = await rates.consume('tokens', 'key:retry', limit, 50);
      // 50 fits once the 60 counted at T0 leave: their one-second slot stops counting at T0 + 61 s.
      expect(refused).toMatchObject({ ok: false, retryAfterMs: 41_000, state: { remaining: 10 } });
      // The refused 50 were not counted: 10 still fit.
      expect(await rates.consume('tokens', 'key:retry', limit, 10)).toMatchObject({
        ok: true,
        state: { remaining: 0 },
      });
      await rates.adjust('tokens', 'key:retry', limit, -10, clock.now);
      clock.now = T0 + 61_000 - 1;
      expect((await rates.consume('tokens', 'key:retry', limit, 50)).ok).toBe(false);
      clock.now = T0 + 61_000;
      const admitted = await rates.consume('tokens', 'key:retry', limit, 50);
      // 30 (from T0 + 10 s) + 50 now; the window is empty again 61 s from now.
      expect(admitted).toMatchObject({ ok: true, state: { remaining: 20, resetMs: 61_000 } });
    });

    it('a negative correction goes back to the slot the estimate was counted in', async () => {
      const { rates, clock } = await create();
      const limit = 1000;
      const estimate = await rates.consume('tokens', 'key:adjust', limit, 1000);
      expect(estimate.ok).toBe(true);
      // The answer arrives 30 s later and used 400 tokens: 600 go back.
      clock.now = T0 + 30_000;
      await rates.adjust('tokens', 'key:adjust', limit, -600, estimate.at);
      expect(await rates.consume('tokens', 'key:adjust', limit, 600)).toMatchObject({
        ok: true,
        state: { remaining: 0 },
      });
      // The 400 leave with their slot at T0 + 61 s, not later: the 600 counted at T0 + 30 s stay.
      clock.now = T0 + 61_000;
      expect(await rates.consume('tokens', 'key:adjust', limit, 400)).toMatchObject({
        ok: true,
        state: { remaining: 0 },
      });
      expect((await rates.consume('tokens', 'key:adjust', limit, 1)).ok).toBe(false);
      // A correction for a slot that has already left the window changes nothing.
      clock.now = T0 + 80_000;
      await rates.adjust('tokens', 'key:adjust', limit, -1000, T0);
      expect((await rates.consume('tokens', 'key:adjust', limit, 1)).ok).toBe(false);
      // Usage above the estimate counts from now.
      await rates.adjust('tokens', 'key:other', limit, 900);
      expect(await rates.consume('tokens', 'key:other', limit, 100)).toMatchObject({
        ok: true,
        state: { remaining: 0 },
      });
    });

    it('takes a shorter window', async () => {
      const { rates, clock } = await create({ windowSeconds: 2, slots: 20 });
      expect((await rates.consume('requests', 'key:short', 2, 2)).ok).toBe(true);
      clock.now = T0 + 1500;
      expect(await rates.consume('requests', 'key:short', 2, 1)).toMatchObject({
        ok: false,
        retryAfterMs: 600,
      });
      clock.now = T0 + 2100;
      expect((await rates.consume('requests', 'key:short', 2, 2)).ok).toBe(true);
    });
  });
}

describe.skipIf(!redisUrl)('sliding-window rate limits shared through Redis', () => {
  it('three clients racing 300 requests against a limit of 50 admit exactly 50', async () => {
    const prefix = uniquePrefix('rates');
    const replicas = await Promise.all(
      [0, 1, 2].map(async () => createRateLimits({ redis: await redisClient(), prefix, onError })),
    );
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        replicas[i % 3]!.consume('requests', 'key:race', 50, 1),
      ),
    );
    expect(results.filter((result) => result.ok)).toHaveLength(50);
    // The count lives in Redis: a hash of one-second slots and their total.
    const stored = await clients[0]!.hgetall(`${prefix}rlw:requests:key:race`);
    expect(stored['t']).toBe('50');
    for (const result of results.filter((item) => !item.ok)) {
      expect(result).toMatchObject({ state: { remaining: 0 } });
      if (!result.ok) expect(result.retryAfterMs).toBeGreaterThan(0);
    }
  });

  it('a point written by a replica whose clock is far behind is counted until its slot leaves, then dropped without losing the others', async () => {
    const prefix = uniquePrefix('rates');
    const client = await redisClient();
    const clock = { now: T0 };
    const here = createRateLimits({ redis: client, prefix, clock: () => clock.now, onError });
    const behind = createRateLimits({
      redis: client,
      prefix,
      clock: () => clock.now - 10 * MINUTE,
      onError,
    });
    expect(await here.consume('requests', 'key:skew', 10, 4)).toMatchObject({
      ok: true,
      state: { remaining: 6 },
    });
    // Its slot is ten minutes old for `here`, but nothing prunes it until `here` checks again.
    expect(await behind.consume('requests', 'key:skew', 10, 3)).toMatchObject({
      ok: true,
      state: { remaining: 3 },
    });
    clock.now += 1000;
    expect(await here.consume('requests', 'key:skew', 10, 1)).toMatchObject({
      ok: true,
      state: { remaining: 5 },
    });
    expect(await client.hget(`${prefix}rlw:requests:key:skew`, 't')).toBe('5');
  });

  it('while Redis is unreachable, each process counts alone in memory instead of refusing', async () => {
    const down = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    down.on('error', () => {});
    const rates = createRateLimits({ redis: down, prefix: uniquePrefix('rates') });
    expect(await rates.consume('requests', 'key:down', 2, 1)).toMatchObject({
      ok: true,
      state: { remaining: 1 },
    });
    expect((await rates.consume('requests', 'key:down', 2, 1)).ok).toBe(true);
    expect((await rates.consume('requests', 'key:down', 2, 1)).ok).toBe(false);
    await rates.adjust('requests', 'key:down', 2, -1);
    expect((await rates.consume('requests', 'key:down', 2, 1)).ok).toBe(true);
    down.disconnect();
  });
});
