import { type RawBuilder, sql } from 'kysely';
import { parsePrice, type ModelPrice } from '../billing/prices.js';
import type { Catalog } from '../router/catalog.js';
import { type Database, migrate } from '../store/index.js';
import {
  LATENCY_BOUNDS_MS,
  ROLLUP_DIMENSIONS,
  ROLLUP_MEASURES,
  telemetryDb,
} from './rollup-schema.js';
import { ANY, MINUTE_RETENTION_MS } from './rollups.js';

/** Options of {@link backfillRollups}. */
export interface BackfillOptions {
  database: Database;
  catalog: Catalog;
  /** Epoch ms; rounded down to the start of its UTC day. */
  from: number;
  /** Epoch ms; rounded up to the end of its UTC day. */
  to: number;
  clock?: () => number;
  /** Called after each day with events done and the total. */
  onProgress?: (done: number, total: number) => void;
}

const DAY = 86_400_000;

/** A trusted number (config price, bucket size) inlined, so Postgres sees the same expression in SELECT and GROUP BY. */
const n = (value: number | bigint) => sql.raw(String(value));

/**
 * Rebuilds the usage roll-ups of whole UTC days from `usage_events`, a day at a time: deletes the
 * day's roll-up rows, then one `insert … select … group by` per roll-up level, so the database
 * does the summing (10 million events take minutes, not hours). Revenue and cost are priced in
 * SQL from the same config prices as the live path (versioned prices by `effective`). For a store
 * that existed before roll-ups, or to repair a range; traffic arriving meanwhile is added on top.
 */
export async function backfillRollups(
  options: BackfillOptions,
): Promise<{ events: number; from: number; to: number }> {
  const clock = options.clock ?? Date.now;
  const from = Math.floor(options.from / DAY) * DAY;
  const to = Math.ceil(options.to / DAY) * DAY;
  await migrate(options.database);
  const db = telemetryDb(options.database);
  const count = async (start: number, end: number) =>
    Number(
      (
        await sql<{
          count: number | bigint;
        }>`select count(*) as count from usage_events where created_at >= ${start} and created_at < ${end}`.execute(
          db,
        )
      ).rows[0]?.count ?? 0,
    );
  const total = await count(from, to);
  const revenue = priceCase(options.catalog, 'revenue');
  const cost = priceCase(options.catalog, 'cost');
  const minuteCutoff = clock() - MINUTE_RETENTION_MS;
  let done = 0;
  options.onProgress?.(0, total);
  for (let day = from; day < to; day += DAY) {
    const events = await count(day, day + DAY);
    await db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('telemetry_usage_rollups')
        .where('bucket_start', '>=', BigInt(day))
        .where('bucket_start', '<', BigInt(day + DAY))
        .execute();
      if (events === 0) return;
      for (const level of [
        { detail: 0, minutes: 1 },
        { detail: 0, minutes: 60 },
        { detail: 0, minutes: 1440 },
        { detail: 1, minutes: 60 },
      ]) {
        if (level.minutes === 1 && day + DAY <= minuteCutoff) continue;
        await sql`${insertSelect(level, day, revenue, cost)}`.execute(trx);
      }
    });
    done += events;
    options.onProgress?.(done, total);
  }
  return { events: done, from, to };
}

/** One level's `insert … select … group by … on conflict add`. */
function insertSelect(
  level: { detail: number; minutes: number },
  day: number,
  revenue: RawBuilder<unknown>,
  cost: RawBuilder<unknown>,
): RawBuilder<unknown> {
  const size = level.minutes * 60_000;
  const coarse = level.detail === 0;
  const dimensions = [
    sql`tenant_id`,
    coarse ? sql`${ANY}` : sql`project_id`,
    coarse ? sql`${ANY}` : sql`coalesce(key_id, '')`,
    sql`coalesce(model, model_requested)`,
    sql`coalesce(deployment, '')`,
    sql`coalesce(partner, '')`,
    sql`surface`,
    sql`status`,
  ];
  const latency = [
    ...LATENCY_BOUNDS_MS.map(
      (bound, index) =>
        sql`sum(case when latency_ms <= ${n(bound)}${index === 0 ? sql`` : sql` and latency_ms > ${n(LATENCY_BOUNDS_MS[index - 1]!)}`} then 1 else 0 end)`,
    ),
    sql`sum(case when latency_ms > ${n(LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!)} then 1 else 0 end)`,
  ];
  const histogram = (column: RawBuilder<unknown>) => [
    ...LATENCY_BOUNDS_MS.map(
      (bound, index) =>
        sql`sum(case when ${column} <= ${n(bound)}${index === 0 ? sql`` : sql` and ${column} > ${n(LATENCY_BOUNDS_MS[index - 1]!)}`} then 1 else 0 end)`,
    ),
    sql`sum(case when ${column} > ${n(LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!)} then 1 else 0 end)`,
  ];
  const measures = [
    sql`count(*)`,
    sql`sum(case when status = 'error' then 1 else 0 end)`,
    sql`sum(input_tokens)`,
    sql`sum(cached_input_tokens)`,
    sql`sum(output_tokens)`,
    sql`sum(reasoning_tokens)`,
    sql`sum(latency_ms)`,
    sql`sum(case when stream = 1 and ttfb_ms is not null then ttfb_ms else 0 end)`,
    sql`sum(case when stream = 1 and ttfb_ms is not null then 1 else 0 end)`,
    // Picos → µUSD, rounded half up once per row; the cast keeps Postgres' sum (numeric) integral.
    sql`(cast(sum(${revenue}) as bigint) + 500000) / 1000000`,
    sql`(cast(sum(${cost}) as bigint) + 500000) / 1000000`,
    ...latency,
    ...histogram(sql`ttfb_ms`),
  ];
  const columns = [
    'detail',
    'bucket_minutes',
    'bucket_start',
    ...ROLLUP_DIMENSIONS,
    ...ROLLUP_MEASURES,
  ].map((column) => sql.ref(column));
  const adds = ROLLUP_MEASURES.map(
    (measure) =>
      sql`${sql.ref(measure)} = telemetry_usage_rollups.${sql.ref(measure)} + excluded.${sql.ref(measure)}`,
  );
  const bucket = sql`(created_at / ${n(size)}) * ${n(size)}`;
  return sql`insert into telemetry_usage_rollups (${sql.join(columns)})
    select ${n(level.detail)}, ${n(level.minutes)}, ${bucket}, ${sql.join(dimensions)}, ${sql.join(measures)}
    from usage_events where created_at >= ${day} and created_at < ${day + DAY}
    group by ${bucket}, ${sql.join(dimensions.filter((_, index) => !(coarse && (index === 1 || index === 2))))}
    on conflict (detail, bucket_minutes, bucket_start, ${sql.join(ROLLUP_DIMENSIONS.map((dimension) => sql.ref(dimension)))}) do update set ${sql.join(adds)}`;
}

/**
 * A SQL expression for an event's revenue (model `price`) or cost (deployment `cost`) in pico-USD,
 * as `costPicos` computes it: cached input and reasoning tokens at their own rates.
 */
function priceCase(catalog: Catalog, kind: 'revenue' | 'cost'): RawBuilder<unknown> {
  const branches: RawBuilder<unknown>[] = [];
  const picos = (price: ModelPrice) =>
    sql`(input_tokens - cached_input_tokens) * ${n(price.input)} + cached_input_tokens * ${n(price.cachedInput)} + (output_tokens - reasoning_tokens) * ${n(price.output)} + reasoning_tokens * ${n(price.reasoning)}`;
  for (const model of catalog.all()) {
    if (kind === 'revenue') {
      const list =
        model.config.price === undefined
          ? []
          : Array.isArray(model.config.price)
            ? model.config.price
            : [model.config.price];
      // Latest effective first; a version without `effective` applies from the start.
      const versions = list
        .map((price, index) => parsePrice(price, index))
        .sort((a, b) => (b.effective ?? -Infinity) - (a.effective ?? -Infinity));
      for (const version of versions)
        branches.push(
          sql`when model = ${model.name}${version.effective === undefined ? sql`` : sql` and created_at >= ${n(version.effective)}`} then ${picos(version)}`,
        );
    } else {
      for (const deployment of model.deployments) {
        if (deployment.config.cost)
          branches.push(
            sql`when model = ${model.name} and deployment = ${deployment.provider} then ${picos(parsePrice(deployment.config.cost))}`,
          );
      }
    }
  }
  return branches.length === 0 ? sql`0` : sql`case ${sql.join(branches, sql` `)} else 0 end`;
}
