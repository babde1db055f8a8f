import { sql } from 'kysely';
import type { Database, UsageEvent } from '../store/index.js';
import type { Pricer } from './money.js';
import type { GatewayObserver } from './observer.js';
import {
  LATENCY_BOUNDS_MS,
  ROLLUP_DIMENSIONS,
  ROLLUP_MEASURES,
  type RollupMeasure,
  telemetryDb,
} from './rollup-schema.js';

/**
 * Usage roll-ups: every finished request is added, in memory, to its minute and its hour row;
 * a flush every few seconds upserts the sums (adding to what other replicas wrote). Dashboard
 * queries read these rows, whose count grows with time and distinct dimensions, not with
 * traffic. `usage_events` stays the record: {@link backfillRollups} rebuilds any range from it.
 */

const NOOP_ATTEMPT = Object.freeze({ headers: undefined, end() {} });

/** Minute rows are kept this long, ms (hour and day rows are kept). */
export const MINUTE_RETENTION_MS = 2 * 86_400_000;
/** The rows each event adds to: coarse per minute, hour and day, detailed per hour. */
const LEVELS = [
  { detail: 0, minutes: 1 },
  { detail: 0, minutes: 60 },
  { detail: 0, minutes: 1440 },
  { detail: 1, minutes: 60 },
] as const;
/** `project_id` and `key_id` of coarse rows. */
export const ANY = '*';

type Sums = Record<RollupMeasure, number>;
interface Pending {
  dimensions: string[];
  detail: number;
  bucketMinutes: number;
  bucketStart: number;
  sums: Sums;
}

/** The roll-up writer. */
export interface RollupRecorder {
  observer: GatewayObserver;
  /** Adds one event (also used by the backfill). */
  add(event: UsageEvent): void;
  /** Writes what is pending. */
  flush(): Promise<void>;
  /** Starts the periodic flush (and minute-row pruning). */
  start(): void;
  /** Stops the timer and flushes. */
  stop(): Promise<void>;
}

/** Options of {@link createRollupRecorder}. */
export interface RollupOptions {
  database: Database;
  pricer: Pricer;
  clock: () => number;
  /** Flush interval, ms. Default 5000. */
  flushIntervalMs?: number;
  onError?: (error: unknown) => void;
}

/** Creates the roll-up recorder over a database migrated with telemetry's migrations. */
export function createRollupRecorder(options: RollupOptions): RollupRecorder {
  const db = telemetryDb(options.database);
  let pending = new Map<string, Pending>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();
  let lastPrune = 0;

  // Rows of the current buckets by dimension key (one slot per level), so an event usually lands
  // in its rows without building the full row keys.
  let hot = new Map<string, Array<Pending | undefined>>();
  const rowFor = (
    dimensionKey: string,
    dimensions: string[],
    levelIndex: number,
    createdAt: number,
  ): Pending => {
    const level = LEVELS[levelIndex]!;
    const size = level.minutes * 60_000;
    const bucketStart = createdAt - (createdAt % size);
    let slots = hot.get(dimensionKey);
    if (!slots) hot.set(dimensionKey, (slots = [undefined, undefined, undefined, undefined]));
    const cached = slots[levelIndex];
    if (cached && cached.bucketStart === bucketStart) return cached;
    const key = `${levelIndex}\u0001${bucketStart}\u0001${dimensionKey}`;
    let row = pending.get(key);
    if (!row)
      pending.set(
        key,
        (row = {
          dimensions,
          detail: level.detail,
          bucketMinutes: level.minutes,
          bucketStart,
          sums: zeroSums(),
        }),
      );
    slots[levelIndex] = row;
    return row;
  };

  const add = (event: UsageEvent) => {
    const model = event.model ?? event.modelRequested;
    const deployment = event.deployment ?? '';
    const partner = event.partner ?? '';
    const keyId = event.keyId ?? '';
    const tail = `${model}\u0001${deployment}\u0001${partner}\u0001${event.surface}\u0001${event.status}`;
    const coarseKey = `0\u0001${event.tenantId}\u0001${tail}`;
    const detailedKey = `1\u0001${event.tenantId}\u0001${event.projectId}\u0001${keyId}\u0001${tail}`;
    let coarse: string[] | undefined;
    let detailed: string[] | undefined;
    const amounts = options.pricer.price(event);
    const revenueMicros = Math.round(amounts.revenueUsd * 1e6);
    const costMicros = Math.round(amounts.costUsd * 1e6);
    const latency = `lat_${latencyBucket(event.latencyMs)}` as RollupMeasure;
    const streamed = event.stream && event.ttfbMs !== null;
    const ttfb =
      event.ttfbMs === null ? undefined : (`ttfb_${latencyBucket(event.ttfbMs)}` as RollupMeasure);
    const minuteCutoff = options.clock() - MINUTE_RETENTION_MS;
    for (let levelIndex = 0; levelIndex < LEVELS.length; levelIndex++) {
      const level = LEVELS[levelIndex]!;
      if (level.minutes === 1 && event.createdAt < minuteCutoff) continue; // a backfill of old events: minute rows would be pruned at once
      const row = level.detail
        ? rowFor(
            detailedKey,
            (detailed ??= [
              event.tenantId,
              event.projectId,
              keyId,
              model,
              deployment,
              partner,
              event.surface,
              event.status,
            ]),
            levelIndex,
            event.createdAt,
          )
        : rowFor(
            coarseKey,
            (coarse ??= [
              event.tenantId,
              ANY,
              ANY,
              model,
              deployment,
              partner,
              event.surface,
              event.status,
            ]),
            levelIndex,
            event.createdAt,
          );
      const sums = row.sums;
      sums.requests += 1;
      if (event.status === 'error') sums.errors += 1;
      sums.input_tokens += event.inputTokens;
      sums.cached_input_tokens += event.cachedInputTokens;
      sums.output_tokens += event.outputTokens;
      sums.reasoning_tokens += event.reasoningTokens;
      sums.latency_ms_sum += event.latencyMs;
      if (streamed) {
        sums.ttft_ms_sum += event.ttfbMs!;
        sums.ttft_count += 1;
      }
      sums.revenue_micros += revenueMicros;
      sums.cost_micros += costMicros;
      sums[latency] += 1;
      if (ttfb !== undefined) sums[ttfb] += 1;
    }
  };

  const write = async (rows: Pending[]) => {
    if (rows.length === 0) return;
    const addColumns = Object.fromEntries(
      ROLLUP_MEASURES.map((measure) => [
        measure,
        sql`telemetry_usage_rollups.${sql.ref(measure)} + excluded.${sql.ref(measure)}`,
      ]),
    );
    await db.transaction().execute(async (trx) => {
      // Multi-row upserts: 400 rows × 42 columns stays under SQLite's and Postgres' bind limits.
      for (let start = 0; start < rows.length; start += 400) {
        const values = rows.slice(start, start + 400).map((row) => {
          const value: Record<string, number | string> = {
            detail: row.detail,
            bucket_minutes: row.bucketMinutes,
            bucket_start: row.bucketStart,
          };
          ROLLUP_DIMENSIONS.forEach((dimension, index) => {
            value[dimension] = row.dimensions[index] ?? '';
          });
          for (const measure of ROLLUP_MEASURES) value[measure] = row.sums[measure] ?? 0;
          return value;
        });
        await trx
          .insertInto('telemetry_usage_rollups')
          .values(values as never)
          .onConflict((conflict) =>
            conflict
              .columns(['detail', 'bucket_minutes', 'bucket_start', ...ROLLUP_DIMENSIONS])
              .doUpdateSet(addColumns as never),
          )
          .execute();
      }
    });
  };

  const flush = () => {
    flushing = flushing.then(async () => {
      const rows = [...pending.values()];
      pending = new Map();
      hot = new Map();
      try {
        await write(rows);
        const now = options.clock();
        if (now - lastPrune > 3_600_000) {
          lastPrune = now;
          await db
            .deleteFrom('telemetry_usage_rollups')
            .where('detail', '=', 0n)
            .where('bucket_minutes', '=', 1n)
            .where('bucket_start', '<', BigInt(Math.trunc(now - MINUTE_RETENTION_MS)))
            .execute();
        }
      } catch (error) {
        options.onError?.(error);
      }
    });
    return flushing;
  };

  return {
    observer: {
      requestStart: (start) => ({
        headers: undefined,
        firstToken() {},
        end: (event) => void (start.internal || add(event)),
      }),
      attemptStart: () => NOOP_ATTEMPT,
    },
    add,
    flush,
    start() {
      if (timer) return;
      timer = setInterval(() => void flush(), options.flushIntervalMs ?? 5000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush();
    },
  };
}

/** Index of the latency histogram bucket for `ms`. */
export function latencyBucket(ms: number): number {
  for (let index = 0; index < LATENCY_BOUNDS_MS.length; index++)
    if (ms <= LATENCY_BOUNDS_MS[index]!) return index;
  return LATENCY_BOUNDS_MS.length;
}

function zeroSums(): Sums {
  return Object.fromEntries(ROLLUP_MEASURES.map((measure) => [measure, 0])) as Sums;
}
