import { sql } from 'kysely';
import type { BudgetAlert } from '../access/index.js';
import { burnDown } from '../billing/commitments.js';
import type { Config } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import { scaledToDecimal } from '../core/money.js';
import type { AlertEvent } from '../runtime/agent/alert-body.js';
import type { AgreementGap } from '../router/licence-scope.js';
import type { Database } from '../store/index.js';

/**
 * Alerts that reach people (config `alerts`): budget thresholds (raised by admission as spend
 * crosses them, once per bucket, period and percent on any replica), a partner's revenue share
 * nearing its cap, a partner licence nearing its end and a commitment heading for under-use
 * (src/billing/commitments.ts) (these checked on a timer by every
 * replica). Each alert has a key naming its occurrence, and the webhook outbox queues a key
 * once per endpoint, so replicas that raise the same alert send it once. Delivery (signatures,
 * retries, the admin list) is the outbox's (runtime/agent/webhooks.ts).
 */

const DAY_MS = 86_400_000;

/** What {@link createAlerts} needs. */
export interface AlertsOptions {
  config: Config;
  database: Database;
  clock: Clock;
  /** Queues an alert for the alert endpoints (AgentRuntime.sendAlert). */
  send(alert: AlertEvent): Promise<void>;
  onError?: (error: unknown) => void;
}

/** The alert monitor. */
export interface Alerts {
  /** A budget crossed a threshold (admission's onAlert). */
  budget(alert: BudgetAlert): Promise<void>;
  /**
   * A request was served through a partner with no licence for the model (coverage guard
   * `alert`). Raised once per model × partner × API × region and UTC day: the first request of
   * the day on this replica queues it, and the outbox key makes it once across replicas.
   */
  gap(gap: AgreementGap): Promise<void>;
  /** Checks partner caps and licences now; resolves to the alerts raised. */
  check(): Promise<AlertEvent[]>;
  /** Starts the check timer (does not keep the process alive). */
  start(): void;
  stop(): void;
}

/** Builds the monitor; it does nothing when `alerts.webhooks` is empty. */
export function createAlerts(options: AlertsOptions): Alerts {
  const { config, clock } = options;
  const enabled = config.alerts.webhooks.length > 0;
  let timer: NodeJS.Timeout | undefined;
  /** Gap alerts already queued by this replica today (bounded: config-made label sets, one day). */
  const gapsToday = new Set<string>();
  let gapDay = -1;

  async function partnerCaps(now: number): Promise<AlertEvent[]> {
    const rows = await sql<{
      id: string;
      partner: string;
      cap: string | number | bigint;
      accrued_total: string | number | bigint;
    }>`select id, partner, cap, accrued_total from billing_clauses where status = 'active' and cap is not null`.execute(
      options.database.db,
    );
    const raised: AlertEvent[] = [];
    for (const row of rows.rows) {
      const cap = BigInt(row.cap);
      const accrued = BigInt(row.accrued_total);
      if (cap <= 0n) continue;
      // The highest threshold reached only: a first check past 100% need not announce 80% too.
      const percent = [...config.alerts.partnerCapThresholds]
        .sort((a, b) => b - a)
        .find((threshold) => accrued * 100n >= cap * BigInt(threshold));
      if (percent === undefined) continue;
      raised.push({
        type: 'partner.share_cap',
        key: `partner_cap:${row.id}:${percent}`,
        tenantId: null,
        text: `Partner ${row.partner}: revenue share accrued $${scaledToDecimal(accrued, 6)} of its $${scaledToDecimal(cap, 6)} cap (${percent}% reached).`,
        data: {
          partner: row.partner,
          clause_id: row.id,
          percent,
          accrued_micros: accrued.toString(),
          cap_micros: cap.toString(),
        },
        at: now,
      });
    }
    return raised;
  }

  function licences(now: number): AlertEvent[] {
    const raised: AlertEvent[] = [];
    for (const [partner, settings] of Object.entries(config.partners)) {
      const until = settings.license?.until;
      if (until === undefined || until <= now) continue;
      const left = until - now;
      // The nearest mark passed: 7 days left announces "7 days", not 30 as well.
      const days = [...config.alerts.licenceDays]
        .sort((a, b) => a - b)
        .find((mark) => left <= mark * DAY_MS);
      if (days === undefined) continue;
      const ends = new Date(until).toISOString();
      raised.push({
        type: 'licence.ending',
        key: `licence:${partner}:${until}:${days}`,
        tenantId: null,
        text: `Partner ${partner}: licence ends ${ends} (within ${days} day${days === 1 ? '' : 's'}); its deployments stop serving then.`,
        data: { partner, ends_at: ends, days, exclusive: settings.license?.exclusive ?? false },
        at: now,
      });
    }
    return raised;
  }

  /** Commitments whose projection to the period's end falls short (once per partner and period). */
  async function commitments(now: number): Promise<AlertEvent[]> {
    const rows = await burnDown(options.database, config, { at: now });
    return rows
      .filter((row) => row.warn)
      .map((row) => ({
        type: 'commitment.under_use' as const,
        key: `commitment:${row.partner}:${row.period}`,
        tenantId: null,
        text: `Partner ${row.partner}: commitment of $${scaledToDecimal(row.committed, 6)} for ${row.period} will be under-used: $${scaledToDecimal(row.consumed, 6)} consumed, $${scaledToDecimal(row.projected, 6)} projected by ${new Date(row.endsAt).toISOString()} ($${scaledToDecimal(row.shortfall, 6)} short).`,
        data: {
          partner: row.partner,
          period: row.period,
          ends_at: new Date(row.endsAt).toISOString(),
          elapsed_percent: Math.round(row.elapsed * 10_000) / 100,
          committed_micros: row.committed.toString(),
          consumed_micros: row.consumed.toString(),
          projected_micros: row.projected.toString(),
          shortfall_micros: row.shortfall.toString(),
        },
        at: now,
      }));
  }

  async function check(): Promise<AlertEvent[]> {
    if (!enabled) return [];
    const now = clock();
    const raised = [...(await partnerCaps(now)), ...licences(now), ...(await commitments(now))];
    for (const alert of raised) await options.send(alert);
    return raised;
  }

  return {
    async budget(alert) {
      if (!enabled) return;
      const period = new Date(alert.periodStart).toISOString();
      await options.send({
        type: 'budget.threshold',
        key: `budget:${alert.scope}:${alert.periodStart}:${alert.percent}`,
        tenantId: await tenantOf(options.database, alert.level),
        text: `Budget alert: ${alert.label} reached ${alert.percent}% ($${scaledToDecimal(alert.spentMicros, 6)} of $${scaledToDecimal(alert.limitMicros, 6)}, period from ${period}).`,
        data: {
          level: alert.level.kind,
          id: alert.level.id,
          bucket: alert.label,
          scope: alert.scope,
          period_start: period,
          percent: alert.percent,
          spent_micros: alert.spentMicros.toString(),
          limit_micros: alert.limitMicros.toString(),
        },
        at: clock(),
      });
    },
    async gap(gap) {
      if (!enabled) return;
      const day = Math.floor(gap.at / DAY_MS);
      if (day !== gapDay) {
        gapDay = day;
        gapsToday.clear();
      }
      const key = `agreement_gap:${gap.model}:${gap.partner}:${gap.api}:${gap.region ?? '-'}:${day}`;
      if (gapsToday.has(key)) return;
      gapsToday.add(key);
      await options.send({
        type: 'agreement.gap',
        key,
        tenantId: null,
        text: `No agreement in force: ${gap.model} served through partner ${gap.partner} (${gap.deployment}) for ${gap.api} requests${gap.region ? ` in ${gap.region}` : ''}. Add a licence or set routing.coverageGuard: refuse.`,
        data: {
          model: gap.model,
          partner: gap.partner,
          deployment: gap.deployment,
          api: gap.api,
          region: gap.region,
        },
        at: gap.at,
      });
    },
    check,
    start() {
      if (!enabled || timer !== undefined) return;
      const tick = () => {
        check().catch((error: unknown) => options.onError?.(error));
      };
      tick();
      timer = setInterval(tick, config.alerts.checkIntervalMs);
      timer.unref();
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}

/** The tenant a budget level belongs to (endpoints may filter on tenants). */
async function tenantOf(database: Database, level: BudgetAlert['level']): Promise<string | null> {
  if (level.kind === 'tenant') return level.id;
  const table = level.kind === 'project' ? 'projects' : 'api_keys';
  const row = await sql<{
    tenant_id: string;
  }>`select tenant_id from ${sql.table(table)} where id = ${level.id}`.execute(database.db);
  return row.rows[0]?.tenant_id ?? null;
}
