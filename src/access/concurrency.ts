import type { Redis } from 'ioredis';
import { redisAway, redisUnavailable } from './redis-guard.js';

/**
 * Requests in flight per bucket. In memory it is a set of request ids per bucket; in Redis a
 * sorted set per bucket scored by a lease deadline, checked and added for every level in one Lua
 * script, so replicas share one count. A replica that dies leaves its slots until the lease ends.
 */

/** One bucket to take a slot in. */
export interface Slot {
  scope: string;
  max: number;
}

/** Takes and gives back in-flight slots. */
export interface ConcurrencyGate {
  /** Takes a slot in every bucket, or none: returns the index of the first full bucket, or -1. */
  acquire(slots: Slot[], requestId: string, now: number): Promise<number>;
  release(scopes: string[], requestId: string): Promise<void>;
}

/** Options of {@link createConcurrencyGate}. */
export interface ConcurrencyOptions {
  redis?: Redis | undefined;
  /** Prefix of every Redis key. Default `switchyard:`. */
  prefix?: string;
  /** How long a slot is held if its process dies, ms. Default 15 minutes. */
  leaseMs?: number;
}

const ACQUIRE = `
local now = ARGV[1]
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[3 + i]) then return i end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[i], ARGV[4 + #KEYS])
end
return 0`;

const RELEASE = `
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 0`;

type ScriptClient = Redis & {
  syConcurrencyAcquire(numKeys: number, ...args: Array<string | number>): Promise<number>;
  syConcurrencyRelease(numKeys: number, ...args: Array<string | number>): Promise<number>;
};

/** Creates the in-flight gate: in memory, or shared through Redis when a client is given. */
export function createConcurrencyGate(options: ConcurrencyOptions = {}): ConcurrencyGate {
  const leaseMs = options.leaseMs ?? 15 * 60_000;
  if (!options.redis) return memoryGate();
  const redis = options.redis as ScriptClient;
  redis.defineCommand('syConcurrencyAcquire', { lua: ACQUIRE });
  redis.defineCommand('syConcurrencyRelease', { lua: RELEASE });
  const key = (scope: string) => `${options.prefix ?? 'switchyard:'}conc:${scope}`;
  return {
    async acquire(slots, requestId, now) {
      if (slots.length === 0) return -1;
      if (redisAway(redis)) throw redisUnavailable();
      const keys = slots.map((slot) => key(slot.scope));
      const full = await redis.syConcurrencyAcquire(
        keys.length,
        ...keys,
        now,
        now + leaseMs,
        requestId,
        ...slots.map((slot) => slot.max),
        leaseMs,
      );
      return Number(full) - 1;
    },
    async release(scopes, requestId) {
      if (scopes.length === 0) return;
      // Slots of a replica cut off from Redis end with their lease.
      if (redisAway(redis)) throw redisUnavailable();
      const keys = scopes.map(key);
      await redis.syConcurrencyRelease(keys.length, ...keys, requestId);
    },
  };
}

function memoryGate(): ConcurrencyGate {
  const inFlight = new Map<string, Set<string>>();
  return {
    async acquire(slots, requestId) {
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i]!;
        if ((inFlight.get(slot.scope)?.size ?? 0) >= slot.max) return i;
      }
      for (const slot of slots) {
        let set = inFlight.get(slot.scope);
        if (!set) inFlight.set(slot.scope, (set = new Set()));
        set.add(requestId);
      }
      return -1;
    },
    async release(scopes, requestId) {
      for (const scope of scopes) {
        const set = inFlight.get(scope);
        if (!set) continue;
        set.delete(requestId);
        if (set.size === 0) inFlight.delete(scope);
      }
    },
  };
}
