import { sql } from 'kysely';
import type { Database } from '../store/index.js';
import {
  LATENCY_BOUNDS_MS,
  LATENCY_COLUMNS,
  type RollupDimension,
  TTFB_COLUMNS,
  type TelemetryDb,
  telemetryDb,
} from './rollup-schema.js';
import { merged } from '../core/objects.js';

/** Filters shared by the dashboard's queries ('' or undefined = any). */
export interface UsageFilter {
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  tenantId?: string | undefined;
  projectId?: string | undefined;
  keyId?: string | undefined;
  model?: string | undefined;
  partner?: string | undefined;
  /** The deployment (provider id) that served: the "cloud". */
  deployment?: string | undefined;
  /**
   * How requests ended (`ok`, `error`, `aborted`) and the error code: these narrow the list of
   * requests and its export; the roll-up charts and totals count every status.
   */
  status?: string | undefined;
  errorCode?: string | undefined;
}

/** One point of a time series. */
export interface SeriesPoint {
  at: number;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  revenueUsd: number;
  costUsd: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/** Totals of a group (a model, a tenant, ...). */
export interface GroupTotals {
  key: string;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  revenueUsd: number;
  costUsd: number;
}

/** Latency and error rate of one group (a model, a partner, a deployment) over a window. */
export interface GroupLatency {
  key: string;
  requests: number;
  errors: number;
  /** errors / requests (0 without requests). */
  errorRate: number;
  /** Total latency percentiles, ms, estimated from the roll-ups' histogram (null: no requests). */
  latency: { p50Ms: number | null; p95Ms: number | null; p99Ms: number | null };
  /** Time-to-first-byte percentiles, ms (null: no request with a measured first byte). */
  ttfb: { p50Ms: number | null; p95Ms: number | null; p99Ms: number | null; samples: number };
}

const FILTER_COLUMNS: Array<[keyof UsageFilter, RollupDimension]> = [
  ['tenantId', 'tenant_id'],
  ['projectId', 'project_id'],
  ['keyId', 'key_id'],
  ['model', 'model'],
  ['partner', 'partner'],
  ['deployment', 'deployment'],
];

/**
 * Which roll-up rows answer a filter: detailed hour rows when it names a project or key; else
 * coarse minute rows up to two hours, hour rows up to eight days, day rows beyond. Each choice
 * keeps a chart under ~360 points and a query under a few hundred thousand rows.
 */
export function levelFor(filter: UsageFilter): { detail: 0 | 1; minutes: 1 | 60 | 1440 } {
  if (filter.projectId || filter.keyId) return { detail: 1, minutes: 60 };
  const span = filter.to - filter.from;
  return { detail: 0, minutes: span <= 2 * 3_600_000 ? 1 : span <= 8 * 86_400_000 ? 60 : 1440 };
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Reads the roll-ups. */
export function createRollupQueries(database: Database) {
  const db = telemetryDb(database);
  // Postgres: each read in a transaction with JIT, parallel workers and sequential scans off.
  // These reads are small index range scans, but at ten million events the planner overestimates
  // them and pays 100-250 ms compiling JIT code and starting workers (seconds on a busy box), or
  // picks a scan of the whole table for the filter values.
  const read = <T>(work: (reader: TelemetryDb) => Promise<T>): Promise<T> =>
    database.dialect === 'postgres'
      ? db.transaction().execute(async (trx) => {
          await sql`select set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true), set_config('enable_seqscan', 'off', true)`.execute(
            trx,
          );
          return work(trx);
        })
      : work(db);

  const base = (reader: TelemetryDb, filter: UsageFilter, level = levelFor(filter)) => {
    const { detail, minutes } = level;
    const size = minutes * 60_000;
    // `detail` inline (not a bound parameter), so SQLite can match the partial key and project
    // indexes (`where detail = 1`). Detailed rows are hourly only, so their queries leave
    // `bucket_minutes` out: then the key or project index is the only one that bounds the range,
    // and SQLite takes it even without planner statistics (with the term, the primary key looks
    // as good and it reads every detailed row of the range).
    let query = reader
      .selectFrom('telemetry_usage_rollups')
      .where(sql<boolean>`detail = ${sql.lit(detail)}`);
    if (detail === 0) query = query.where('bucket_minutes', '=', BigInt(minutes));
    query = query
      .where('bucket_start', '>=', BigInt(Math.floor(filter.from / size) * size))
      .where('bucket_start', '<', BigInt(Math.trunc(filter.to)));
    for (const [field, column] of FILTER_COLUMNS) {
      const value = filter[field];
      if (typeof value === 'string' && value !== '') query = query.where(column, '=', value);
    }
    return { query, minutes };
  };
  const sums = [
    sql<bigint>`sum(requests)`.as('requests'),
    sql<bigint>`sum(errors)`.as('errors'),
    sql<bigint>`sum(input_tokens)`.as('input_tokens'),
    sql<bigint>`sum(output_tokens)`.as('output_tokens'),
    sql<bigint>`sum(revenue_micros)`.as('revenue_micros'),
    sql<bigint>`sum(cost_micros)`.as('cost_micros'),
  ];

  return {
    /** Requests, errors, tokens, money and latency percentiles per minute or hour. */
    async series(filter: UsageFilter): Promise<{
      bucketMinutes: number;
      points: SeriesPoint[];
      latency: { p50Ms: number | null; p95Ms: number | null; p99Ms: number | null };
    }> {
      const { minutes } = levelFor(filter);
      const rows = await read((reader) =>
        base(reader, filter)
          .query.select('bucket_start')
          .select(sums)
          .select(LATENCY_COLUMNS.map((column) => sql<bigint>`sum(${sql.ref(column)})`.as(column)))
          .groupBy('bucket_start')
          .orderBy('bucket_start')
          .execute(),
      );
      const overall = LATENCY_COLUMNS.map(() => 0);
      const byBucket = new Map<number, SeriesPoint>();
      for (const row of rows) {
        const histogram = LATENCY_COLUMNS.map((column, index) => {
          const count = Number((row as Record<string, unknown>)[column] ?? 0);
          overall[index]! += count;
          return count;
        });
        byBucket.set(Number(row.bucket_start), {
          at: Number(row.bucket_start),
          ...measures(row),
          p50Ms: percentile(histogram, 0.5),
          p95Ms: percentile(histogram, 0.95),
          p99Ms: percentile(histogram, 0.99),
        });
      }
      // Every bucket of the range, empty ones as zeros, so charts show quiet periods.
      const size = minutes * 60_000;
      const points: SeriesPoint[] = [];
      for (let at = Math.floor(filter.from / size) * size; at < filter.to; at += size) {
        points.push(
          byBucket.get(at) ?? {
            at,
            requests: 0,
            errors: 0,
            inputTokens: 0,
            outputTokens: 0,
            revenueUsd: 0,
            costUsd: 0,
            p50Ms: null,
            p95Ms: null,
            p99Ms: null,
          },
        );
      }
      return {
        bucketMinutes: minutes,
        points,
        latency: {
          p50Ms: percentile(overall, 0.5),
          p95Ms: percentile(overall, 0.95),
          p99Ms: percentile(overall, 0.99),
        },
      };
    },

    /** Totals grouped by one dimension, largest first. */
    async top(filter: UsageFilter, dimension: RollupDimension, limit = 10): Promise<GroupTotals[]> {
      const grouped = async (
        piece: UsageFilter,
        level?: { detail: 0 | 1; minutes: 1 | 60 | 1440 },
        cap?: number,
      ) => {
        const rows = await read((reader) => {
          const query = base(reader, piece, level)
            .query.select(sql.ref(dimension).as('key'))
            .select(sums)
            .groupBy(dimension)
            .orderBy(sql`sum(requests)`, 'desc');
          return (cap === undefined ? query : query.limit(cap)).execute();
        });
        return rows.map((row) => ({
          key: String((row as { key: unknown }).key ?? ''),
          ...measures(row),
        }));
      };
      const level = levelFor(filter);
      const firstDay = Math.ceil((Math.floor(filter.from / HOUR) * HOUR) / DAY) * DAY;
      const lastDay = Math.floor(filter.to / DAY) * DAY;
      // A range of hour rows that spans whole days reads those days from day rows (24 times fewer)
      // and only its ragged ends from hour rows: the same sums, a third of the rows for 7 days.
      if (level.detail === 1 || level.minutes !== 60 || lastDay <= firstDay)
        return grouped(filter, level, limit);
      const pieces = await Promise.all([
        filter.from < firstDay ? grouped(merged(filter, { to: firstDay }), level) : [],
        grouped(merged(filter, { from: firstDay, to: lastDay }), { detail: 0, minutes: 1440 }),
        lastDay < filter.to ? grouped(merged(filter, { from: lastDay }), level) : [],
      ]);
      const totals = new Map<string, GroupTotals>();
      for (const row of pieces.flat()) {
        const seen = totals.get(row.key);
        if (!seen) totals.set(row.key, { ...row });
        else
          for (const measure of [
            'requests',
            'errors',
            'inputTokens',
            'outputTokens',
            'revenueUsd',
            'costUsd',
          ] as const)
            seen[measure] += row[measure];
      }
      return [...totals.values()].sort((a, b) => b.requests - a.requests).slice(0, limit);
    },

    /**
     * Requests, errors, error rate and p50/p95/p99 of total latency and of time to first byte per
     * value of `dimension` over the filter's window, busiest first. Percentiles come from the
     * histograms summed in SQL (so every replica's traffic counts, on SQLite and Postgres alike),
     * interpolated inside a bucket as Prometheus' histogram_quantile does.
     */
    async breakdown(
      filter: UsageFilter,
      dimension: 'model' | 'partner' | 'deployment',
      limit = 50,
    ): Promise<GroupLatency[]> {
      const rows = await read((reader) =>
        base(reader, filter)
          .query.select(sql.ref(dimension).as('key'))
          .select([
            sql<bigint>`sum(requests)`.as('requests'),
            sql<bigint>`sum(errors)`.as('errors'),
          ])
          .select(
            [...LATENCY_COLUMNS, ...TTFB_COLUMNS].map((column) =>
              sql<bigint>`sum(${sql.ref(column)})`.as(column),
            ),
          )
          .groupBy(dimension)
          .orderBy(sql`sum(requests)`, 'desc')
          .limit(limit)
          .execute(),
      );
      return rows.map((row) => {
        const record = row as Record<string, unknown>;
        const counts = (columns: readonly string[]) =>
          columns.map((column) => Number(record[column] ?? 0));
        const latency = counts(LATENCY_COLUMNS);
        const ttfb = counts(TTFB_COLUMNS);
        const requests = Number(record['requests'] ?? 0);
        const errors = Number(record['errors'] ?? 0);
        return {
          key: String(record['key'] ?? ''),
          requests,
          errors,
          errorRate: requests === 0 ? 0 : errors / requests,
          latency: {
            p50Ms: percentile(latency, 0.5),
            p95Ms: percentile(latency, 0.95),
            p99Ms: percentile(latency, 0.99),
          },
          ttfb: {
            p50Ms: percentile(ttfb, 0.5),
            p95Ms: percentile(ttfb, 0.95),
            p99Ms: percentile(ttfb, 0.99),
            samples: ttfb.reduce((sum, count) => sum + count, 0),
          },
        };
      });
    },

    /**
     * The start of the latest minute with a failed request, per partner, since `since` (minute
     * rows: a range of the primary key), so the caller can look for the error itself in that
     * one minute of `usage_events` instead of scanning an hour of them.
     */
    async lastErrorMinutes(since: number): Promise<Map<string, number>> {
      const rows = await read((reader) =>
        reader
          .selectFrom('telemetry_usage_rollups')
          .select(['partner', sql<bigint>`max(bucket_start)`.as('at')])
          .where(sql<boolean>`detail = ${sql.lit(0)}`)
          .where('bucket_minutes', '=', 1n)
          .where('bucket_start', '>=', BigInt(Math.floor(since / 60_000) * 60_000))
          .where('errors', '>', 0n)
          .groupBy('partner')
          .execute(),
      );
      return new Map(
        rows
          .filter((row) => row.partner !== '')
          .map((row) => [row.partner, Number((row as { at: unknown }).at)]),
      );
    },

    /**
     * Distinct values of the filterable dimensions (for the filter lists): tenants, models,
     * partners and clouds of the last 30 days, projects and keys of the last day.
     */
    async dimensions(now: number): Promise<Record<string, string[]>> {
      const out: Record<string, string[]> = {};
      for (const [field, column] of FILTER_COLUMNS) {
        const detailed = column === 'project_id' || column === 'key_id';
        // The range read is a subquery with a LIMIT, which SQLite never flattens: a plain
        // `select distinct key_id` would walk the whole key index (it is ordered by key_id) instead
        // of the primary key's range of recent rows.
        const rows = await read((reader) => {
          const recent = reader
            .selectFrom('telemetry_usage_rollups')
            .select(column)
            .where('detail', '=', detailed ? 1n : 0n)
            .where('bucket_minutes', '=', detailed ? 60n : 1440n)
            .where('bucket_start', '>=', BigInt(Math.trunc(now - (detailed ? 1 : 30) * 86_400_000)))
            .limit(1_000_000_000)
            .as('recent');
          return reader.selectFrom(recent).select(column).distinct().limit(500).execute();
        });
        out[field] = rows
          .map((row) => String((row as Record<string, unknown>)[column]))
          .filter((value) => value !== '' && value !== '*')
          .sort();
      }
      return out;
    },
  };
}

export type RollupQueries = ReturnType<typeof createRollupQueries>;

function measures(row: {
  requests: unknown;
  errors: unknown;
  input_tokens: unknown;
  output_tokens: unknown;
  revenue_micros: unknown;
  cost_micros: unknown;
}) {
  return {
    requests: Number(row.requests ?? 0),
    errors: Number(row.errors ?? 0),
    inputTokens: Number(row.input_tokens ?? 0),
    outputTokens: Number(row.output_tokens ?? 0),
    revenueUsd: Number(row.revenue_micros ?? 0) / 1e6,
    costUsd: Number(row.cost_micros ?? 0) / 1e6,
  };
}

/**
 * Estimates a percentile from histogram counts by linear interpolation inside the bucket (as
 * Prometheus' histogram_quantile does); the open last bucket reports its lower bound.
 */
export function percentile(counts: number[], q: number): number | null {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let index = 0; index < counts.length; index++) {
    const count = counts[index]!;
    if (seen + count >= rank && count > 0) {
      const lower = index === 0 ? 0 : LATENCY_BOUNDS_MS[index - 1]!;
      const upper = LATENCY_BOUNDS_MS[index];
      if (upper === undefined) return lower;
      return Math.round(lower + ((upper - lower) * (rank - seen)) / count);
    }
    seen += count;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}
