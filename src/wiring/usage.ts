import { dirname, join, resolve } from 'node:path';
import { createDurableSink, type DurableSink } from '../billing/durable-sink.js';
import type { Billing } from '../billing/index.js';
import { createSpool } from '../billing/spool.js';
import type { Config, StoreConfig } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import type { Telemetry } from '../telemetry/index.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * The spool directory for a store: `store.spool.dir`, else `spool/` next to the SQLite file,
 * else `./data/spool`. An in-memory SQLite store has none unless one is configured: its data
 * dies with the process anyway.
 */
export function spoolDirFor(store: StoreConfig): string | undefined {
  if (!store.spool.enabled) return undefined;
  if (store.spool.dir) return resolve(store.spool.dir);
  if (store.url === 'sqlite::memory:') return undefined;
  if (store.url.startsWith('sqlite:')) {
    const rest = store.url.slice('sqlite:'.length);
    return join(dirname(resolve(rest.startsWith('//') ? rest.slice(2) : rest)), 'spool');
  }
  return resolve('data', 'spool');
}

/**
 * The gateway's usage sink: billing's group commit, with the local spool behind it (see
 * billing/durable-sink.ts). Spooled and replayed counts and the oldest waiting event reach
 * the metrics; every spooled event and failed replay is logged (request id only).
 */
export function wireUsageSink(deps: {
  config: Config;
  /** Where events are committed: billing, or the cluster primary's billing from a worker. */
  billing: Pick<Billing, 'record'>;
  clock: Clock;
  logger: Logger;
  telemetry: Telemetry;
}): DurableSink {
  const { config, billing, logger } = deps;
  const dir = spoolDirFor(config.store);
  const sink = createDurableSink({
    commit: (event) => billing.record(event),
    spool: dir === undefined ? undefined : createSpool({ dir, clock: deps.clock }),
    commitTimeoutMs: config.store.spool.commitTimeoutMs,
    replayIntervalMs: config.store.spool.replayIntervalMs,
    onSpooled: (event, cause) =>
      logger.warn(
        { requestId: event.requestId, err: cause },
        'usage event spooled (store unavailable)',
      ),
    onReplayError: (error) => logger.warn({ err: error }, 'usage spool replay failed'),
  });
  deps.telemetry.metrics?.watchSpool(() => sink.stats());
  return sink;
}
