import type { Redis } from 'ioredis';
import { type Clock, systemClock } from '../core/clock.js';
import { redisUsable } from './redis-guard.js';

/**
 * Per-minute request and token limits as a **sliding window of sub-window counters**: the
 * window (60 s) is cut into 60 slots of one second, each holding the points admitted in it.
 * A check sums every slot that overlaps the last 60 s — the oldest, partly expired slot counted
 * whole — and admits `points` only if that sum plus `points` stays within the limit. Because
 * the sum never undercounts, **no 60 s span ever admits more than the limit**, wherever it
 * starts; the price is that a point is held for 60–61 s instead of exactly 60 s.
 *
 * Why this algorithm (issue 7 asks for token-bucket or sliding-window):
 * - rate-limiter-flexible, which we used before, has only fixed windows (a window opened by a
 *   bucket's first request lets 2× the limit through across its boundary).
 * - The sliding-window *counter* (current + previous × unexpired fraction; Cloudflare, Kong,
 *   @upstash/ratelimit `slidingWindow`) keeps two numbers but assumes the previous window was
 *   evenly spread: a burst at the end of one window followed by steady traffic to the end of
 *   the next passes almost 2× the limit within one 60 s span.
 * - A token bucket of capacity L refilled at L per minute also passes up to 2L in a minute.
 * - A sliding *log* (a sorted set of every request) is exact but holds one entry per request,
 *   and token limits weigh each entry (up to millions of tokens per minute per key).
 * Sub-window counters are exact as an upper bound with at most 61 numbers per bucket, take
 * weights, and let a correction go back to the slot it corrects (see `adjust`).
 *
 * In process memory by default; with Redis, one Lua script per check (ioredis `defineCommand`,
 * EVALSHA) reads, prunes, checks and adds atomically in one round trip on a hash per bucket
 * (`<prefix>rl:<kind>:<scope>`, one field per slot), so every replica counts against the same
 * number. Slot indices come from the caller's clock (as budget leases do), so replicas should
 * run NTP; skew only shifts which slot a point lands in. While Redis is not ready or a script
 * fails, a per-process memory window stands in, so an outage loosens limits (each replica
 * counts alone) instead of refusing every request.
 */

/** Which counter. */
export type RateKind = 'requests' | 'tokens';

/** The state of one window after a check. */
export interface WindowState {
  limit: number;
  remaining: number;
  /** Milliseconds until the window holds nothing again (the full limit is available). */
  resetMs: number;
}

/**
 * The outcome of a check: admitted, or refused with how long to wait until enough capacity
 * frees for the same request. `at` is the instant the check counted from; pass it to
 * {@link RateLimits.adjust} to correct those points later.
 */
export type RateResult =
  | { ok: true; state: WindowState; at: number }
  | { ok: false; state: WindowState; retryAfterMs: number; at: number };

/** Counts requests and tokens per bucket. */
export interface RateLimits {
  /** Adds `points` to `scope`'s window unless that would pass `limit`; refused points are not counted. */
  consume(kind: RateKind, scope: string, limit: number, points: number): Promise<RateResult>;
  /**
   * Corrects a window: positive `delta` adds points now (real usage above the estimate);
   * negative takes them back from the slot they were counted in at `at` (the `at` of the
   * consume; default now), and nothing if that slot has already left the window.
   */
  adjust(kind: RateKind, scope: string, limit: number, delta: number, at?: number): Promise<void>;
}

/** Options of {@link createRateLimits}. */
export interface RateLimitsOptions {
  /** Redis client; omit for process memory. */
  redis?: Redis | undefined;
  /** Prefix of every Redis key. Default `switchyard:`. */
  prefix?: string;
  /** Window length in seconds. Default 60. */
  windowSeconds?: number;
  /** Slots per window. Default 60 (one-second slots for a one-minute window). */
  slots?: number;
  /** Milliseconds since the epoch. Default `Date.now`. */
  clock?: Clock | undefined;
  /** Told when a Redis script fails and process memory answers instead. Default: ignore. */
  onError?: ((error: unknown) => void) | undefined;
}

/** Where a check stands: the window in ms, the slot length, the current and the oldest counted slot. */
interface Frame {
  windowMs: number;
  slotMs: number;
  now: number;
  current: number;
  first: number;
}

// KEYS[1] the bucket's hash: one field per slot index (points), `t` the total of the live slots,
// `o` a slot at or below the oldest live one, `n` the newest slot written. Slot indices are
// consecutive integers, so pruning walks from `o` to the oldest counted slot: about one slot a
// second per bucket, instead of reading every slot on every check. A bucket idle for a window
// and two slots expires whole (PEXPIRE), which bounds that walk.
const PRUNE = `
local function prune(key, first)
  local meta = redis.call('HMGET', key, 't', 'o', 'n')
  local total = tonumber(meta[1]) or 0
  local oldest = tonumber(meta[2])
  local newest = tonumber(meta[3]) or -1
  if oldest and oldest < first then
    if newest < first then
      redis.call('DEL', key)
      return 0, nil, -1
    end
    if first - oldest > 256 then
      -- Only after a large clock step: read the slots instead of walking the gap.
      local flat = redis.call('HGETALL', key)
      for i = 1, #flat, 2 do
        local slot = tonumber(flat[i])
        if slot and slot < first then
          total = total - tonumber(flat[i + 1])
          redis.call('HDEL', key, flat[i])
        end
      end
    else
      for slot = oldest, first - 1 do
        local name = tostring(slot)
        local count = tonumber(redis.call('HGET', key, name))
        if count then
          total = total - count
          redis.call('HDEL', key, name)
        end
      end
    end
    redis.call('HSET', key, 't', total, 'o', first)
    oldest = first
  end
  return total, oldest, newest
end
local function add(key, slot, points, ttl, oldest, newest)
  redis.call('HINCRBY', key, slot, points)
  redis.call('HINCRBY', key, 't', points)
  local at = tonumber(slot)
  if not oldest or at < oldest then redis.call('HSET', key, 'o', slot) end
  if at > newest then redis.call('HSET', key, 'n', slot) end
  redis.call('PEXPIRE', key, ttl)
end
`;

// ARGV: first counted slot, current slot, limit, points, key ttl ms.
// Answers {admitted 1 or 0, total after, slot whose departure frees enough (-1: never; 0 when
// admitted), newest slot holding points (-1: none)}.
const CONSUME = `${PRUNE}
local key = KEYS[1]
local first = tonumber(ARGV[1])
local current = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local points = tonumber(ARGV[4])
local total, oldest, newest = prune(key, first)
if total + points > limit then
  local left = total
  local last = math.max(newest, current)
  for slot = math.max(first, oldest or first), last do
    left = left - (tonumber(redis.call('HGET', key, tostring(slot))) or 0)
    if left + points <= limit then return {0, total, slot, newest} end
  end
  return {0, total, -1, newest}
end
add(key, ARGV[2], points, ARGV[5], oldest, newest)
return {1, total + points, 0, math.max(newest, current)}`;

// ARGV: first counted slot, current slot, delta, slot to take a negative delta from, key ttl ms.
const ADJUST = `${PRUNE}
local key = KEYS[1]
local delta = tonumber(ARGV[3])
local _, oldest, newest = prune(key, tonumber(ARGV[1]))
if delta > 0 then
  add(key, ARGV[2], delta, ARGV[5], oldest, newest)
  return 1
end
if tonumber(ARGV[4]) < tonumber(ARGV[1]) then return 0 end
local count = tonumber(redis.call('HGET', key, ARGV[4]))
if not count then return 0 end
local taken = math.min(count, -delta)
if taken == count then redis.call('HDEL', key, ARGV[4]) else redis.call('HINCRBY', key, ARGV[4], -taken) end
redis.call('HINCRBY', key, 't', -taken)
return 1`;

type ScriptClient = Redis & {
  syRateConsume(
    key: string,
    first: number,
    current: number,
    limit: number,
    points: number,
    ttlMs: number,
  ): Promise<[number, number, number, number]>;
  syRateAdjust(
    key: string,
    first: number,
    current: number,
    delta: number,
    slot: number,
    ttlMs: number,
  ): Promise<number>;
};

/**
 * Creates the request/token limits: in memory, or shared through Redis when a client is given.
 *
 * @example
 * const rates = createRateLimits({ redis });
 * const result = await rates.consume('tokens', 'key:k1', 90_000, 1200);
 * if (result.ok) await rates.adjust('tokens', 'key:k1', 90_000, realTokens - 1200, result.at);
 */
export function createRateLimits(options: RateLimitsOptions = {}): RateLimits {
  const clock = options.clock ?? systemClock;
  const windowMs = (options.windowSeconds ?? 60) * 1000;
  const slotMs = windowMs / (options.slots ?? 60);
  const frame = (now: number): Frame => ({
    windowMs,
    slotMs,
    now,
    current: Math.floor(now / slotMs),
    first: Math.floor((now - windowMs) / slotMs),
  });
  const memory = createMemoryWindows();
  const redis = options.redis as ScriptClient | undefined;
  if (!redis) {
    return {
      async consume(kind, scope, limit, points) {
        return memory.consume(`${kind}:${scope}`, frame(clock()), limit, points);
      },
      async adjust(kind, scope, _limit, delta, at) {
        const now = clock();
        memory.adjust(`${kind}:${scope}`, frame(now), delta, at ?? now);
      },
    };
  }

  redis.defineCommand('syRateConsume', { numberOfKeys: 1, lua: CONSUME });
  redis.defineCommand('syRateAdjust', { numberOfKeys: 1, lua: ADJUST });
  // `rlw:`, not the fixed-window `rl:` keys of earlier versions, which hold plain counters.
  const base = `${options.prefix ?? 'switchyard:'}rlw:`;
  // A bucket outlives its newest slot by a window and a slot; then Redis drops it.
  const ttlMs = Math.ceil(windowMs + 2 * slotMs);
  // Not ready (connecting, reconnecting, closed): answer from memory at once rather than queue.
  const ready = () => redisUsable(redis);
  return {
    async consume(kind, scope, limit, points) {
      const at = frame(clock());
      if (ready()) {
        try {
          const [ok, total, freeing, newest] = await redis.syRateConsume(
            `${base}${kind}:${scope}`,
            at.first,
            at.current,
            limit,
            points,
            ttlMs,
          );
          return ok === 1
            ? admitted(at, limit, total, newest)
            : refused(at, limit, total, freeing, newest);
        } catch (error) {
          // Redis failed mid-check: this process's window answers.
          options.onError?.(error);
        }
      }
      return memory.consume(`${kind}:${scope}`, at, limit, points);
    },
    async adjust(kind, scope, _limit, delta, at) {
      if (delta === 0) return;
      const now = frame(clock());
      if (ready()) {
        try {
          await redis.syRateAdjust(
            `${base}${kind}:${scope}`,
            now.first,
            now.current,
            delta,
            Math.floor((at ?? now.now) / slotMs),
            ttlMs,
          );
          return;
        } catch (error) {
          options.onError?.(error);
        }
      }
      memory.adjust(`${kind}:${scope}`, now, delta, at ?? now.now);
    },
  };
}

/** The answer for admitted points; `newest` is the newest slot holding points. */
function admitted(frame: Frame, limit: number, total: number, newest: number): RateResult {
  return {
    ok: true,
    at: frame.now,
    state: { limit, remaining: Math.max(0, limit - total), resetMs: leaves(frame, newest) },
  };
}

/**
 * The answer for refused points: retry when `freeing` (the oldest slot whose departure leaves
 * room for them) stops being counted; -1 = never (more points than the limit), a window.
 */
function refused(
  frame: Frame,
  limit: number,
  total: number,
  freeing: number,
  newest: number,
): RateResult {
  const retryAfterMs = freeing < 0 ? frame.windowMs : Math.max(1, leaves(frame, freeing));
  return {
    ok: false,
    at: frame.now,
    retryAfterMs,
    state: { limit, remaining: Math.max(0, limit - total), resetMs: leaves(frame, newest) },
  };
}

/** Milliseconds until `slot` stops being counted (0 for none, -1): when the oldest counted slot passes it. */
function leaves(frame: Frame, slot: number): number {
  if (slot < 0) return 0;
  return Math.max(0, Math.ceil((slot + 1) * frame.slotMs + frame.windowMs - frame.now));
}

interface MemoryWindow {
  /** Points per slot, in insertion order (ascending while the clock does not step back). */
  slots: Map<number, number>;
  total: number;
}

/** Sliding windows in process memory: exact for one process; idle buckets are swept once a window. */
function createMemoryWindows() {
  const windows = new Map<string, MemoryWindow>();
  let sweptAt = Number.NEGATIVE_INFINITY;

  const prune = (window: MemoryWindow, first: number) => {
    // Slots are in ascending order except after a clock step back; a stray older slot is then
    // pruned when the slots before it are, which only counts it a little longer.
    for (const [slot, count] of window.slots) {
      if (slot >= first) break;
      window.total -= count;
      window.slots.delete(slot);
    }
  };

  const sweep = (frame: Frame) => {
    if (frame.now - sweptAt < frame.windowMs) return;
    sweptAt = frame.now;
    for (const [key, window] of windows) {
      prune(window, frame.first);
      if (window.slots.size === 0) windows.delete(key);
    }
  };

  const add = (window: MemoryWindow, slot: number, points: number) => {
    window.slots.set(slot, (window.slots.get(slot) ?? 0) + points);
    window.total += points;
  };

  return {
    consume(key: string, frame: Frame, limit: number, points: number): RateResult {
      sweep(frame);
      let window = windows.get(key);
      if (!window) {
        window = { slots: new Map(), total: 0 };
        windows.set(key, window);
      }
      prune(window, frame.first);
      if (window.total + points > limit) {
        const slots = [...window.slots.keys()].sort((a, b) => a - b);
        let left = window.total;
        let freeing = -1;
        for (const slot of slots) {
          left -= window.slots.get(slot)!;
          if (left + points <= limit) {
            freeing = slot;
            break;
          }
        }
        return refused(frame, limit, window.total, freeing, slots.at(-1) ?? -1);
      }
      add(window, frame.current, points);
      let newest = frame.current;
      for (const slot of window.slots.keys()) if (slot > newest) newest = slot;
      return admitted(frame, limit, window.total, newest);
    },
    adjust(key: string, frame: Frame, delta: number, at: number): void {
      if (delta === 0) return;
      let window = windows.get(key);
      if (delta > 0) {
        if (!window) {
          window = { slots: new Map(), total: 0 };
          windows.set(key, window);
        }
        add(window, frame.current, delta);
        return;
      }
      const slot = Math.floor(at / frame.slotMs);
      const count = window?.slots.get(slot);
      if (!window || count === undefined || slot < frame.first) return;
      const taken = Math.min(count, -delta);
      window.total -= taken;
      if (count === taken) window.slots.delete(slot);
      else window.slots.set(slot, count - taken);
    },
  };
}
