import type { Redis } from 'ioredis';
import { estimateTokens, requestedMaxTokens } from '../access/estimate.js';
import { createRateLimits, type RateLimits } from '../access/rate-limits.js';
import { burnDown } from '../billing/index.js';
import type { Config } from '../config/index.js';
import type { ChatRequest } from '../core/chat.js';
import type { Clock } from '../core/clock.js';
import { withStoreTimeout } from '../errors/index.js';
import type { UsageSink } from '../gateway/gateway-deps.js';
import type { Catalog } from '../router/catalog.js';
import type { CommitmentView, ReservedCapacity } from '../router/commitments.js';
import type { Database, UsageEvent } from '../store/index.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * Commitments wired to the planes (issue 18 item 3):
 * - reserved capacity: each `reservedTpm` deployment has a tokens-per-minute window in the
 *   access plane's sliding-window counters (`rlw:tokens:reserved:<provider/model>`), shared by
 *   every replica through Redis (one atomic script per take), by the cluster primary for
 *   `server.workers` without Redis, and in process memory otherwise.
 *   An attempt takes the request's estimated tokens (input by the tokenizer, plus the output
 *   max the request sets); the usage event corrects the estimate to the tokens really used,
 *   and gives back what failed attempts took.
 * - committed spend: a background refresh (timeout, error handler) of each partner's
 *   burn-down, so `plan()` reads whether a commitment is still open without touching the store.
 */

/** A reservation taken for one attempt, kept until the request's usage event arrives. */
interface Reservation {
  key: string;
  scope: string;
  limit: number;
  points: number;
  at: number;
  taken: number;
}

/** Reservations older than this are dropped unsettled (their window has long moved on). */
const RESERVATION_TTL_MS = 5 * 60_000;

/** Reserved capacity plus what the rest of the app needs to feed it. */
export interface CapacityPlane extends ReservedCapacity {
  /** Counts through Redis from now on (called once access has connected it). */
  useRedis(redis: Redis | undefined, prefix: string): void;
  /** Counts through other counters (a `server.workers` worker without Redis: the primary's). */
  useRates(shared: RateLimits): void;
  /** Corrects a request's reservations to its real tokens (from its usage event). */
  settle(event: UsageEvent): Promise<void>;
  /** Wraps the gateway's usage sink so every usage event settles its reservations. */
  meter(sink: UsageSink): UsageSink;
  /** This replica's view: deployment key → used up until (epoch ms). */
  fullUntil(): Map<string, number>;
  /**
   * This replica's view of a deployment's minute window: the reserved tokens it took, corrected
   * by usage events, over the last 60 s (other replicas' tokens are counted in the shared
   * counters, not here). Null for a deployment without `reservedTpm`.
   */
  usedTokens(key: string, now: number): number | null;
  /** Why and until when a reserved deployment is put last (spilling), or undefined when it is not. */
  spilling(key: string, now: number): Spilling | undefined;
}

/** A reserved deployment put last: its window is used (`window`) or its upstream answered 429. */
export interface Spilling {
  until: number;
  reason: 'window' | 'upstream_429';
}

/** Length of the local tally's window and of its slots, ms (as the shared counters'). */
const LOCAL_WINDOW_MS = 60_000;
const LOCAL_SLOT_MS = 1_000;

/** Builds the reserved-capacity counters for the catalog's `reservedTpm` deployments. */
export function createCapacityPlane(deps: {
  catalog: Catalog;
  clock: Clock;
  logger: Logger;
}): CapacityPlane {
  const { clock, logger } = deps;
  const limits = new Map<string, number>();
  for (const model of deps.catalog.all())
    for (const deployment of model.deployments)
      if (deployment.config.reservedTpm !== undefined)
        limits.set(deployment.key, deployment.config.reservedTpm);
  const onError = (error: unknown) => logger.warn({ err: error }, 'reserved capacity counter');
  let rates: RateLimits = createRateLimits({ clock, onError });
  const full = new Map<string, Spilling>();
  // This replica's tally per deployment: one-second slot → tokens (what it took and settled).
  const tally = new Map<string, Map<number, number>>();
  const count = (key: string, tokens: number, at: number) => {
    if (tokens === 0 || !limits.has(key)) return;
    const slot = Math.floor(at / LOCAL_SLOT_MS);
    const first = Math.floor((clock() - LOCAL_WINDOW_MS) / LOCAL_SLOT_MS);
    if (slot < first) return;
    let slots = tally.get(key);
    if (!slots) tally.set(key, (slots = new Map()));
    slots.set(slot, (slots.get(slot) ?? 0) + tokens);
    // Bounded without readers: at most a window and a few slots per deployment.
    if (slots.size > LOCAL_WINDOW_MS / LOCAL_SLOT_MS + 2)
      for (const old of slots.keys()) if (old < first) slots.delete(old);
  };
  const mark = (key: string, until: number, reason: Spilling['reason']) => {
    const current = full.get(key);
    if (current === undefined || until >= current.until) full.set(key, { until, reason });
  };
  const pending = new Map<string, Reservation[]>();
  let sweptAt = 0;

  const sweep = (now: number) => {
    if (now - sweptAt < RESERVATION_TTL_MS) return;
    sweptAt = now;
    for (const [requestId, list] of pending)
      if (list.every((item) => now - item.taken > RESERVATION_TTL_MS)) pending.delete(requestId);
  };

  const adjust = async (scope: string, limit: number, delta: number, at?: number) => {
    if (delta === 0) return;
    try {
      await rates.adjust('tokens', scope, limit, delta, at);
    } catch (error) {
      onError(error);
    }
  };

  const plane: CapacityPlane = {
    full(key, now) {
      const spilling = full.get(key);
      if (spilling === undefined) return false;
      if (spilling.until > now) return true;
      full.delete(key);
      return false;
    },
    exhausted(key, until) {
      mark(key, until, 'upstream_429');
    },
    async take(deployment, call) {
      const limit = limits.get(deployment.key);
      if (limit === undefined) return true;
      const now = clock();
      sweep(now);
      const estimate = estimateTokens(call.body, call.operation);
      const points =
        estimate.inputTokens +
        (call.operation === 'chat' ? (requestedMaxTokens(call.body as ChatRequest) ?? 0) : 0);
      const scope = `reserved:${deployment.key}`;
      try {
        const result = await rates.consume('tokens', scope, limit, Math.min(points, limit));
        if (!result.ok) {
          mark(deployment.key, now + result.retryAfterMs, 'window');
          return false;
        }
        full.delete(deployment.key);
        count(deployment.key, Math.min(points, limit), result.at);
        const list = pending.get(call.requestId) ?? [];
        list.push({
          key: deployment.key,
          scope,
          limit,
          points: Math.min(points, limit),
          at: result.at,
          taken: now,
        });
        pending.set(call.requestId, list);
        return true;
      } catch (error) {
        onError(error);
        return true;
      }
    },
    useRedis(redis, prefix) {
      if (redis) rates = createRateLimits({ redis, prefix, clock, onError });
    },
    useRates(shared) {
      rates = shared;
    },
    async settle(event) {
      const list = pending.get(event.requestId);
      pending.delete(event.requestId);
      const served =
        event.deployment !== null && event.upstreamModel !== null
          ? `${event.deployment}/${event.upstreamModel}`
          : undefined;
      const used = event.inputTokens + event.outputTokens;
      let settled = false;
      for (const item of (list ?? []).reverse()) {
        if (!settled && item.key === served) {
          settled = true;
          count(item.key, used - item.points, item.at);
          await adjust(item.scope, item.limit, used - item.points, item.at);
        } else {
          count(item.key, -item.points, item.at);
          await adjust(item.scope, item.limit, -item.points, item.at);
        }
      }
      // Served by reserved capacity without a reservation (tried as the last resort): count it.
      const limit = served === undefined ? undefined : limits.get(served);
      if (!settled && limit !== undefined && served !== undefined && used > 0) {
        count(served, used, clock());
        await adjust(`reserved:${served}`, limit, used);
      }
    },
    meter(sink) {
      if (limits.size === 0) return sink;
      return {
        record(event) {
          plane.settle(event).catch((error: unknown) => onError(error));
          return sink.record(event);
        },
      };
    },
    fullUntil: () => new Map([...full].map(([key, spilling]) => [key, spilling.until])),
    usedTokens(key, now) {
      if (!limits.has(key)) return null;
      const slots = tally.get(key);
      if (!slots) return 0;
      // Slots overlapping the last 60 s, the oldest counted whole (as the shared counters do).
      const first = Math.floor((now - LOCAL_WINDOW_MS) / LOCAL_SLOT_MS);
      let sum = 0;
      for (const [slot, tokens] of slots) {
        if (slot < first) slots.delete(slot);
        else sum += tokens;
      }
      if (slots.size === 0) tally.delete(key);
      return Math.max(0, sum);
    },
    spilling(key, now) {
      const spilling = full.get(key);
      return spilling !== undefined && spilling.until > now ? { ...spilling } : undefined;
    },
  };
  return plane;
}

/** Open commitments for `plan()`: refreshed from the ledger in the background. */
export interface CommitmentCache extends CommitmentView {
  refresh(): Promise<void>;
  start(): void;
  stop(): void;
}

/** How often the commitment view is refreshed from the ledger, ms. */
const COMMITMENT_REFRESH_MS = 60_000;

/** Which partners' commitments are still open this period (consumed below committed). */
export function createCommitmentCache(deps: {
  config: Config;
  database: Database;
  clock: Clock;
  logger: Logger;
}): CommitmentCache {
  const { config } = deps;
  const closed = new Set<string>();
  const any = Object.values(config.partners).some((partner) => partner.commitment);
  let timer: NodeJS.Timeout | undefined;
  const refresh = async () => {
    if (!any) return;
    const rows = await withStoreTimeout(
      burnDown(deps.database, config, { at: deps.clock() }),
      config.store.readyTimeoutMs,
      'commitment burn-down',
    );
    closed.clear();
    for (const row of rows) if (row.consumed >= row.committed) closed.add(row.partner);
  };
  return {
    open: (partner) => !closed.has(partner),
    refresh,
    start() {
      if (!any || timer !== undefined) return;
      const tick = () => {
        refresh().catch((error: unknown) =>
          deps.logger.warn({ err: error }, 'commitment burn-down refresh failed'),
        );
      };
      tick();
      timer = setInterval(tick, COMMITMENT_REFRESH_MS);
      timer.unref();
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
