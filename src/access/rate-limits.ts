import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/**
 * Per-minute request and token counters on rate-limiter-flexible: in process memory by default,
 * in Redis when configured (one atomic Lua INCR per check, so every replica counts against the
 * same number). The algorithm is the library's fixed window: a window of 60 s opens at a
 * bucket's first request, and at most `limit` points are admitted in it.
 */

/** Which counter. */
export type RateKind = 'requests' | 'tokens';

/** The state of one window after a check. */
export interface WindowState {
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/** The outcome of a check: admitted, or refused with how long to wait. */
export type RateResult = { ok: true; state: WindowState } | { ok: false; state: WindowState; retryAfterMs: number };

/** Counts requests and tokens per bucket. */
export interface RateLimits {
  /** Adds `points` to `scope`'s current window unless that would pass `limit`. */
  consume(kind: RateKind, scope: string, limit: number, points: number): Promise<RateResult>;
  /** Corrects a window: positive `delta` adds points (real usage above the estimate), negative gives them back. */
  adjust(kind: RateKind, scope: string, limit: number, delta: number): Promise<void>;
}

/** Options of {@link createRateLimits}. */
export interface RateLimitsOptions {
  /** Redis client; omit for process memory. */
  redis?: Redis | undefined;
  /** Prefix of every Redis key. Default `switchyard:`. */
  prefix?: string;
  /** Window length in seconds. Default 60. */
  windowSeconds?: number;
}

/** Creates the request/token counters. */
export function createRateLimits(options: RateLimitsOptions = {}): RateLimits {
  const duration = options.windowSeconds ?? 60;
  const prefix = `${options.prefix ?? 'switchyard:'}rl:`;
  const limiters = new Map<string, RateLimiterAbstract>();

  // rate-limiter-flexible fixes `points` per limiter, so there is one limiter per (kind, limit).
  // In Redis they share the key space of their kind, so a changed limit keeps the window's count.
  const limiter = (kind: RateKind, limit: number): RateLimiterAbstract => {
    const id = `${kind}:${limit}`;
    let found = limiters.get(id);
    if (!found) {
      const keyPrefix = `${prefix}${kind}`;
      // With Redis, a per-process memory limiter stands in while Redis is unreachable, so an
      // outage loosens limits (each replica counts alone) instead of refusing every request.
      found = options.redis
        ? new RateLimiterRedis({ storeClient: options.redis, points: limit, duration, keyPrefix, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory({ points: limit, duration, keyPrefix }) })
        : new RateLimiterMemory({ points: limit, duration, keyPrefix });
      limiters.set(id, found);
    }
    return found;
  };

  return {
    async consume(kind, scope, limit, points) {
      const rate = limiter(kind, limit);
      try {
        const result = await rate.consume(scope, points);
        return { ok: true, state: stateOf(result, limit) };
      } catch (thrown) {
        if (!(thrown instanceof RateLimiterRes)) throw thrown;
        // The library counts refused points too; give them back so that only admitted requests
        // use the window (a refused 10k-token request must not block a later 1k one).
        await rate.reward(scope, points).catch(() => undefined);
        const state = stateOf(thrown, limit);
        const used = thrown.consumedPoints - points;
        return { ok: false, state: { ...state, remaining: Math.max(0, limit - used) }, retryAfterMs: Math.max(1, thrown.msBeforeNext) };
      }
    },
    async adjust(kind, scope, limit, delta) {
      if (delta === 0) return;
      const rate = limiter(kind, limit);
      if (delta > 0) await rate.penalty(scope, delta);
      else await rate.reward(scope, -delta);
    },
  };
}

function stateOf(result: RateLimiterRes, limit: number): WindowState {
  return { limit, remaining: Math.max(0, limit - result.consumedPoints), resetMs: Math.max(0, result.msBeforeNext) };
}
