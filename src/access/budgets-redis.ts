import type { Redis } from 'ioredis';
import { redisAway, redisUnavailable } from './redis-guard.js';
import type { BucketState, BudgetBucket, BudgetCounters, SpendLoader } from './budgets.js';

/**
 * Budget counters in Redis, shared by every replica. Per bucket and period: a hash
 * `{spent, reserved}` and a sorted set of live reservations (`<id>:<amount>`, scored by lease
 * deadline). Reserving runs one Lua script over all levels: drop expired reservations, check
 * `spent + reserved + amount ≤ limit` on every hard bucket (or, for a clamped request, reserve
 * what the tightest bucket has left when that is at least the minimum), then add to all, so
 * concurrent requests on any number of processes can never reserve past a hard limit.
 *
 * A bucket whose hash has no `spent` (first use in a period, or Redis lost its data) makes the
 * script answer `seed`: `spent` is read from the database, set with HSETNX, and the reservation
 * tried again. Settling writes the database first, then Redis, so a lost Redis is rebuilt from
 * the database; the rare overlap of a seed with a settle can only count a spend twice, never
 * miss one. Amounts are compared as Lua doubles: exact up to 2^53 µUSD (about 9 billion USD).
 *
 * Keys of one reservation must live on one Redis node (single instance, or Cluster with a
 * hash-tagged prefix such as `{switchyard}:`).
 */

const RESERVE = `
local now = tonumber(ARGV[1])
local amount = tonumber(ARGV[3])
local minimum = tonumber(ARGV[5])
local n = (#KEYS) / 2
for i = 1, n do
  local h = KEYS[2 * i - 1]
  local z = KEYS[2 * i]
  local stale = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  for _, m in ipairs(stale) do
    local a = string.match(m, ':(%d+)$')
    if a then redis.call('HINCRBY', h, 'reserved', '-' .. a) end
    redis.call('ZREM', z, m)
  end
  if redis.call('HEXISTS', h, 'spent') == 0 then return {'seed', i} end
end
local grant = amount
for i = 1, n do
  local limit = tonumber(ARGV[5 + 2 * i - 1])
  if limit >= 0 then
    local h = KEYS[2 * i - 1]
    local spent = redis.call('HGET', h, 'spent')
    local reserved = redis.call('HGET', h, 'reserved') or '0'
    local room = limit - tonumber(spent) - tonumber(reserved)
    if room < grant then
      if minimum >= 0 and room >= minimum then grant = room
      else return {'over', i, spent, reserved} end
    end
  end
end
local granted = string.format('%d', grant)
local member = ARGV[2] .. ':' .. granted
for i = 1, n do
  local h = KEYS[2 * i - 1]
  local z = KEYS[2 * i]
  redis.call('HINCRBY', h, 'reserved', granted)
  redis.call('ZADD', z, ARGV[4], member)
  local ttl = tonumber(ARGV[5 + 2 * i])
  if ttl > 0 then
    redis.call('EXPIRE', h, ttl)
    redis.call('EXPIRE', z, ttl)
  end
end
return {'ok', granted}`;

const SETTLE = `
local n = (#KEYS) / 2
for i = 1, n do
  local h = KEYS[2 * i - 1]
  local z = KEYS[2 * i]
  if redis.call('ZREM', z, ARGV[1]) == 1 and ARGV[2] ~= '0' then redis.call('HINCRBY', h, 'reserved', '-' .. ARGV[2]) end
  if ARGV[3] ~= '0' and redis.call('HEXISTS', h, 'spent') == 1 then redis.call('HINCRBY', h, 'spent', ARGV[3]) end
end
return 0`;

type ScriptClient = Redis & {
  syBudgetReserve(
    numKeys: number,
    ...args: Array<string | number>
  ): Promise<Array<string | number>>;
  syBudgetSettle(numKeys: number, ...args: Array<string | number>): Promise<number>;
};

/** Options of {@link createRedisBudgets}. */
export interface RedisBudgetsOptions {
  redis: Redis;
  /** Prefix of every key. Default `switchyard:`. */
  prefix?: string;
  /** Reads recorded spend from the database, to seed a bucket. */
  load: SpendLoader;
  /** How long a reservation lives if its process dies, ms. Default 15 minutes. */
  leaseMs?: number;
}

/** Budget counters shared by replicas through Redis. */
export function createRedisBudgets(options: RedisBudgetsOptions): BudgetCounters {
  const redis = options.redis as ScriptClient;
  redis.defineCommand('syBudgetReserve', { lua: RESERVE });
  redis.defineCommand('syBudgetSettle', { lua: SETTLE });
  const leaseMs = options.leaseMs ?? 15 * 60_000;
  const base = `${options.prefix ?? 'switchyard:'}budget:`;
  const hashKey = (bucket: BudgetBucket) => `${base}${bucket.scope}:${bucket.periodStart}`;
  const keysOf = (buckets: BudgetBucket[]) =>
    buckets.flatMap((bucket) => [hashKey(bucket), `${hashKey(bucket)}:r`]);
  const member = (reservationId: string, amount: bigint) => `${reservationId}:${amount}`;
  // Keep a period's counters a week past its end, so late settles still find them.
  const ttlSeconds = (bucket: BudgetBucket, now: number) =>
    Number.isFinite(bucket.periodEnd)
      ? Math.max(1, Math.ceil((bucket.periodEnd - now) / 1000) + 7 * 86_400)
      : 0;

  const seed = async (bucket: BudgetBucket) => {
    const spent = await options.load(bucket.scope, bucket.periodStart);
    await redis.hsetnx(hashKey(bucket), 'spent', spent.toString());
  };

  return {
    async reserve(buckets, reservationId, amount, now, minimum) {
      if (buckets.length === 0) return { ok: true, amount };
      // Redis away: fail at once (admission answers its documented 503) rather than wait.
      if (redisAway(redis)) throw redisUnavailable();
      const keys = keysOf(buckets);
      const perBucket = buckets.flatMap((bucket) => [
        bucket.hard ? bucket.limit.toString() : '-1',
        ttlSeconds(bucket, now),
      ]);
      for (let attempt = 0; attempt < 5; attempt++) {
        const answer = await redis.syBudgetReserve(
          keys.length,
          ...keys,
          now,
          reservationId,
          amount.toString(),
          now + leaseMs,
          minimum === undefined ? '-1' : minimum.toString(),
          ...perBucket,
        );
        const [status, index] = answer;
        if (status === 'ok') return { ok: true, amount: BigInt(String(index)) };
        const bucket = buckets[Number(index) - 1]!;
        if (status === 'seed') {
          await seed(bucket);
          continue;
        }
        return {
          ok: false,
          bucket,
          state: { spent: BigInt(String(answer[2])), reserved: BigInt(String(answer[3])) },
        };
      }
      throw new Error('budget reservation: bucket could not be seeded');
    },
    async settle(buckets, reservationId, reserved, spent) {
      if (buckets.length === 0) return;
      // The spend is in the database already; the reservation's lease ends it in Redis.
      if (redisAway(redis)) throw redisUnavailable();
      const keys = keysOf(buckets);
      await redis.syBudgetSettle(
        keys.length,
        ...keys,
        member(reservationId, reserved),
        reserved.toString(),
        spent.toString(),
      );
    },
    async state(bucket): Promise<BucketState> {
      const key = hashKey(bucket);
      const [spent, reserved] = await redis.hmget(key, 'spent', 'reserved');
      if (spent === null || spent === undefined) {
        await seed(bucket);
        return this.state(bucket);
      }
      return { spent: BigInt(spent), reserved: BigInt(reserved ?? '0') };
    },
  };
}
