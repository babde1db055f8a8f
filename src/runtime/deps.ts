import type { Clock } from '../core/clock.js';
import type { IdSource } from '../core/ids.js';
import type { Gateway } from '../gateway/types.js';
import type { Catalog } from '../router/catalog.js';
import type { RuntimeRepository } from '../store/index.js';

/** Retention settings of the runtime (config `runtime`). */
export interface RetentionOptions {
  /** Days a stored response (its items, its event log) is kept; 0 = until deleted. Default 30. */
  retentionDays: number;
  /** Days a conversation (and its items) is kept after creation; 0 = until deleted. Default 0. */
  conversationRetentionDays: number;
}

/** What the runtime services need. */
export interface RuntimeDeps {
  repository: RuntimeRepository;
  /** Every model call goes through the gateway (surface `openai-responses`), so any cloud serves it. */
  gateway: Gateway;
  /** For each model's context window (`models.<name>.contextWindow`). */
  catalog: Pick<Catalog, 'get'>;
  clock: Clock;
  ids: IdSource;
  retention: RetentionOptions;
}

const DAY_MS = 86_400_000;

/** Expiry instant for something created at `now` and kept `days` days (null when 0: kept until deleted). */
export function expiry(now: number, days: number): number | null {
  return days > 0 ? now + Math.round(days * DAY_MS) : null;
}

/**
 * Objects created at or before this time are past a retention of `days` at `now` (undefined
 * when `days` is 0: kept until deleted). For rows that carry no `expires_at` of their own.
 */
export function retentionCutoff(now: number, days: number): number | undefined {
  return days > 0 ? now - Math.round(days * DAY_MS) : undefined;
}

/**
 * The context window of a logical model: `models.<name>.contextWindow`, else the smallest
 * window among its deployments, else undefined (no limit known: nothing is truncated).
 */
export function contextWindowOf(catalog: Pick<Catalog, 'get'>, model: string): number | undefined {
  const entry = catalog.get(model);
  if (!entry) return undefined;
  if (entry.config.contextWindow !== undefined) return entry.config.contextWindow;
  const windows = entry.deployments.flatMap((deployment) =>
    deployment.config.contextWindow === undefined ? [] : [deployment.config.contextWindow],
  );
  return windows.length > 0 ? Math.min(...windows) : undefined;
}

/** Unix seconds. */
export function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}
