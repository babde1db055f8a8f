import type { Config } from '../config/index.js';
import type { Catalog } from '../router/catalog.js';
import type { HealthTracker } from '../router/health.js';
import type { Database } from '../store/index.js';
import type { AttemptEnd, AttemptScope, GatewayObserver, RequestScope } from './observer.js';
import type { RollupQueries } from './rollup-queries.js';

/** The window the health summary looks at, ms. */
export const HEALTH_WINDOW_MS = 5 * 60_000;
/** Buckets of the in-memory attempt window (10 s each). */
const BUCKET_MS = 10_000;
const BUCKETS = HEALTH_WINDOW_MS / BUCKET_MS;
/** How long stored facts (request counts, last errors) are reused between reads, ms. */
const STORED_CACHE_MS = 2_000;
/** How far back the last stored error of a partner is looked for, ms. */
const LAST_ERROR_LOOKBACK_MS = 3_600_000;
/**
 * Error rate from which a partner with at least {@link DOWN_MIN_SAMPLES} outcomes is down; as
 * many failed attempts in a row (no success since, as the breaker's default threshold) are too.
 */
export const DOWN_ERROR_RATE = 0.9;
const DOWN_MIN_SAMPLES = 5;
/** Error rate from which a partner with at least one failure is degraded. */
export const DEGRADED_ERROR_RATE = 0.05;

/** Error classes that are the client's doing: they say nothing about a cloud (as for breakers). */
const CLIENT_CAUSED = new Set([
  'invalid_request',
  'context_overflow',
  'content_policy',
  'client_closed',
  'internal',
]);

/** One partner's health as the dashboard shows it. */
export interface PartnerHealth {
  id: string;
  name: string;
  /** `down`: every deployment's breaker is open, the last ≥ 5 attempts failed, or ≥ 90% of ≥ 5 outcomes failed; `degraded`: a breaker not closed, or ≥ 5% failed; else `healthy`. */
  state: 'healthy' | 'degraded' | 'down';
  /** Why the state is what it is, in words. */
  reason: string;
  windowMs: number;
  /**
   * Upstream attempts this replica made to the partner in the window (failovers included), and
   * how many failed in a row since its last success.
   */
  attempts: { total: number; failed: number; errorRate: number; failingInARow: number };
  /** Requests the partner served or last failed, from stored usage (every replica). */
  requests: { total: number; errors: number; errorRate: number };
  deployments: Array<{ key: string; provider: string; model: string; breaker: string }>;
  breakersOpen: number;
  breakersHalfOpen: number;
  lastError: { code: string; at: number; deployment: string | null } | null;
}

interface Bucket {
  start: number;
  attempts: number;
  failed: number;
}

interface PartnerTrack {
  buckets: Bucket[];
  /** Failed attempts since the last successful one. */
  streak: number;
  lastError: { code: string; at: number; deployment: string | null } | undefined;
}

/** What the health summary reads. */
export interface PartnerHealthDeps {
  config: Config;
  catalog: Catalog;
  health: HealthTracker;
  database: Database;
  clock: () => number;
}

/**
 * Which cloud is failing now: per partner, the upstream attempts of the last five minutes (a
 * bounded in-memory window per replica, fed by the executor's attempt hooks, so failed attempts
 * that were then failed over count against the cloud that failed), the requests it served or
 * failed in that window from stored usage (every replica), its deployments' breakers (shared over
 * Redis when configured) and its last error. Memory: 30 buckets per configured partner.
 */
export function createPartnerHealth(deps: PartnerHealthDeps) {
  const tracks = new Map<string, PartnerTrack>();
  for (const id of Object.keys(deps.config.partners))
    tracks.set(id, { buckets: [], streak: 0, lastError: undefined });

  const record = (partner: string, deployment: string, outcome: AttemptEnd) => {
    const track = tracks.get(partner);
    if (!track) return;
    const now = deps.clock();
    const start = now - (now % BUCKET_MS);
    let bucket = track.buckets.at(-1);
    if (!bucket || bucket.start !== start) {
      bucket = { start, attempts: 0, failed: 0 };
      track.buckets.push(bucket);
      if (track.buckets.length > BUCKETS) track.buckets.shift();
    }
    // A success has no error class; a client-caused error is not the cloud's failure.
    if (outcome.errorClass !== null && CLIENT_CAUSED.has(outcome.errorClass)) return;
    bucket.attempts += 1;
    if (outcome.errorClass === null) track.streak = 0;
    else {
      bucket.failed += 1;
      track.streak += 1;
      track.lastError = { code: outcome.code ?? outcome.errorClass, at: now, deployment };
    }
  };

  const observer: GatewayObserver = {
    requestStart: () => NOOP_REQUEST,
    attemptStart(start): AttemptScope {
      const partner = start.partner;
      if (partner === null || !tracks.has(partner)) return NOOP_ATTEMPT;
      return {
        headers: undefined,
        end: (outcome) => record(partner, start.deployment, outcome),
      };
    },
  };

  /** Requests and errors per partner in the window, and each partner's last stored error. */
  const stored = async (
    now: number,
    rollups: RollupQueries | undefined,
  ): Promise<{
    requests: Map<string, { total: number; errors: number }>;
    lastErrors: Map<string, { code: string; at: number; deployment: string | null }>;
  }> => {
    const requests = new Map<string, { total: number; errors: number }>();
    const from = now - HEALTH_WINDOW_MS;
    if (rollups) {
      for (const row of await rollups.breakdown({ from, to: now + 1 }, 'partner'))
        requests.set(row.key, { total: row.requests, errors: row.errors });
    } else {
      const rows = await deps.database.db
        .selectFrom('usage_events')
        .select(['partner'])
        .select((eb) => [
          eb.fn.countAll<number>().as('total'),
          eb.fn
            .sum<number>(eb.case().when('status', '=', 'error').then(1).else(0).end())
            .as('errors'),
        ])
        .where('created_at', '>=', BigInt(from))
        .where('partner', 'is not', null)
        .groupBy('partner')
        .execute();
      for (const row of rows)
        requests.set(String(row.partner), {
          total: Number(row.total),
          errors: Number(row.errors ?? 0),
        });
    }
    // The last stored error: its minute from the roll-ups (last hour), then that minute of
    // usage_events; without roll-ups, the window itself. Either way a bounded range.
    const lastErrors = new Map<string, { code: string; at: number; deployment: string | null }>();
    const minutes = rollups
      ? await rollups.lastErrorMinutes(now - LAST_ERROR_LOOKBACK_MS)
      : new Map([...tracks.keys()].map((partner) => [partner, from]));
    await Promise.all(
      [...minutes].map(async ([partner, start]) => {
        if (!tracks.has(partner)) return;
        const row = await deps.database.db
          .selectFrom('usage_events')
          .select(['error_code', 'created_at', 'deployment'])
          .where('created_at', '>=', BigInt(start))
          .where('created_at', '<', BigInt(rollups ? start + 60_000 : now + 1))
          .where('status', '=', 'error')
          .where('partner', '=', partner)
          .orderBy('created_at', 'desc')
          .limit(1)
          .executeTakeFirst();
        if (row)
          lastErrors.set(partner, {
            code: row.error_code ?? 'error',
            at: Number(row.created_at),
            deployment: row.deployment,
          });
      }),
    );
    return { requests, lastErrors };
  };

  // Stored facts are read at most every few seconds however many dashboards poll.
  let cached: { at: number; value: Promise<Awaited<ReturnType<typeof stored>>> } | undefined;
  const storedCached = (now: number, rollups: RollupQueries | undefined) => {
    if (!cached || now - cached.at >= STORED_CACHE_MS || now < cached.at) {
      const value = stored(now, rollups);
      cached = { at: now, value };
      value.catch(() => {
        if (cached?.value === value) cached = undefined;
      });
    }
    return cached.value;
  };

  return {
    observer,
    /** The summary of every configured partner, worst first. */
    async summary(rollups: RollupQueries | undefined): Promise<PartnerHealth[]> {
      const now = deps.clock();
      const { requests, lastErrors } = await storedCached(now, rollups);
      const deployments = new Map<string, PartnerHealth['deployments']>();
      for (const model of deps.catalog.all())
        for (const deployment of model.deployments) {
          if (deployment.partner === null) continue;
          const list = deployments.get(deployment.partner) ?? [];
          if (list.some((item) => item.key === deployment.key)) continue;
          list.push({
            key: deployment.key,
            provider: deployment.provider,
            model: deployment.upstreamModel,
            breaker: deps.health.get(deployment.key).state,
          });
          deployments.set(deployment.partner, list);
        }
      const out: PartnerHealth[] = [];
      for (const [id, track] of tracks) {
        const recent = track.buckets.filter((bucket) => bucket.start > now - HEALTH_WINDOW_MS);
        const attempts = recent.reduce((sum, bucket) => sum + bucket.attempts, 0);
        const failed = recent.reduce((sum, bucket) => sum + bucket.failed, 0);
        const served = requests.get(id);
        const list = deployments.get(id) ?? [];
        const open = list.filter((item) => item.breaker === 'open').length;
        const halfOpen = list.filter((item) => item.breaker === 'half-open').length;
        const candidates = [track.lastError, lastErrors.get(id)].filter(
          (value): value is NonNullable<typeof value> => value !== undefined,
        );
        const lastError = candidates.sort((a, b) => b.at - a.at)[0] ?? null;
        const attemptRate = attempts === 0 ? 0 : failed / attempts;
        const requestRate = served && served.total > 0 ? served.errors / served.total : 0;
        const streak = recent.length === 0 ? 0 : track.streak;
        const { state, reason } = judge({
          streak,
          deployments: list.length,
          open,
          halfOpen,
          attempts,
          failed,
          attemptRate,
          requests: served?.total ?? 0,
          errors: served?.errors ?? 0,
          requestRate,
        });
        out.push({
          id,
          name: deps.config.partners[id]?.name ?? id,
          state,
          reason,
          windowMs: HEALTH_WINDOW_MS,
          attempts: { total: attempts, failed, errorRate: attemptRate, failingInARow: streak },
          requests: served
            ? { total: served.total, errors: served.errors, errorRate: requestRate }
            : { total: 0, errors: 0, errorRate: 0 },
          deployments: list,
          breakersOpen: open,
          breakersHalfOpen: halfOpen,
          lastError,
        });
      }
      const rank = { down: 0, degraded: 1, healthy: 2 } as const;
      return out.sort((a, b) => rank[a.state] - rank[b.state] || a.id.localeCompare(b.id));
    },
  };
}

export type PartnerHealthView = ReturnType<typeof createPartnerHealth>;

const NOOP_ATTEMPT: AttemptScope = { headers: undefined, end() {} };
const NOOP_REQUEST: RequestScope = { headers: undefined, firstToken() {}, end() {} };

/** The state from breakers and error rates (thresholds documented in docs/observability.md). */
export function judge(input: {
  /** Attempts failed in a row since the partner's last success. */
  streak: number;
  deployments: number;
  open: number;
  halfOpen: number;
  attempts: number;
  failed: number;
  attemptRate: number;
  requests: number;
  errors: number;
  requestRate: number;
}): { state: PartnerHealth['state']; reason: string } {
  const pct = (rate: number) => `${Math.round(rate * 100)}%`;
  if (input.deployments > 0 && input.open === input.deployments)
    return {
      state: 'down',
      reason: `every breaker open (${input.open} of ${input.deployments})`,
    };
  if (input.streak >= DOWN_MIN_SAMPLES)
    return {
      state: 'down',
      reason: `last ${input.streak} attempts failed, none succeeded since`,
    };
  if (input.attempts >= DOWN_MIN_SAMPLES && input.attemptRate >= DOWN_ERROR_RATE)
    return {
      state: 'down',
      reason: `${pct(input.attemptRate)} of ${input.attempts} attempts failed`,
    };
  if (input.requests >= DOWN_MIN_SAMPLES && input.requestRate >= DOWN_ERROR_RATE)
    return {
      state: 'down',
      reason: `${pct(input.requestRate)} of ${input.requests} requests failed`,
    };
  if (input.open > 0 || input.halfOpen > 0)
    return {
      state: 'degraded',
      reason: `${input.open} breaker(s) open, ${input.halfOpen} half-open of ${input.deployments}`,
    };
  if (input.failed > 0 && input.attemptRate >= DEGRADED_ERROR_RATE)
    return {
      state: 'degraded',
      reason: `${pct(input.attemptRate)} of ${input.attempts} attempts failed`,
    };
  if (input.errors > 0 && input.requestRate >= DEGRADED_ERROR_RATE)
    return {
      state: 'degraded',
      reason: `${pct(input.requestRate)} of ${input.requests} requests failed`,
    };
  return {
    state: 'healthy',
    reason:
      input.attempts + input.requests === 0
        ? 'no traffic in the window'
        : 'breakers closed, errors under 5%',
  };
}
