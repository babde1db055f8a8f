import { sql } from 'kysely';
import type { AccessDb } from './records.js';
import { parseJson, toBigInt, toNumber } from '../internal/convert.js';

/** Spend to add to one budget bucket. */
export interface SpendEntry {
  /** Budget bucket, e.g. `key:key_123:month`. */
  scope: string;
  /** Start of the period (epoch ms, UTC; 0 for `total`). */
  periodStart: number;
  /** µUSD, ≥ 0. */
  amount: bigint;
}

/** One admin change. */
export interface AuditEntry {
  id: string;
  at: number;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  before: unknown;
  after: unknown;
  requestId: string | null;
}

/** Filter of {@link AccessLedger.listAudit}: newest first. */
export interface AuditFilter {
  targetType?: string | undefined;
  targetId?: string | undefined;
  /** 1–1000; default 100. */
  limit?: number | undefined;
  /** Id of the last entry of the previous page. */
  after?: string | undefined;
}

/** Budget spend (the record of truth for budgets) and the audit log. */
export interface AccessLedger {
  /** Adds spend to each bucket with one atomic `spent = spent + amount` per row. */
  addSpend(entries: SpendEntry[]): Promise<void>;
  /** Spend of a bucket in a period (0 when nothing was recorded). */
  spent(scope: string, periodStart: number): Promise<bigint>;
  /**
   * Records that the alert at `percent` fired for a bucket and period. True only for the one
   * caller that raised it (on every replica), so an alert is announced once.
   */
  claimAlert(scope: string, periodStart: number, percent: number): Promise<boolean>;
  appendAudit(entry: AuditEntry): Promise<void>;
  listAudit(filter?: AuditFilter): Promise<AuditEntry[]>;
}

/** Creates an {@link AccessLedger} over a database handle or a transaction. */
export function createAccessLedger(db: AccessDb): AccessLedger {
  return {
    async addSpend(entries) {
      const rows = entries
        .filter((entry) => entry.amount > 0n)
        .map((entry) => ({
          scope: entry.scope,
          period_start: entry.periodStart,
          spent: entry.amount,
          alerted_percent: 0,
        }));
      if (rows.length === 0) return;
      await db
        .insertInto('budget_spend')
        .values(rows)
        .onConflict((conflict) =>
          conflict.columns(['scope', 'period_start']).doUpdateSet((eb) => ({
            spent: sql`${eb.ref('budget_spend.spent')} + ${eb.ref('excluded.spent')}`,
          })),
        )
        .execute();
    },
    async spent(scope, periodStart) {
      const row = await db
        .selectFrom('budget_spend')
        .select('spent')
        .where('scope', '=', scope)
        .where('period_start', '=', BigInt(periodStart))
        .executeTakeFirst();
      return row ? toBigInt(row.spent) : 0n;
    },
    async claimAlert(scope, periodStart, percent) {
      await db
        .insertInto('budget_spend')
        .values({ scope, period_start: periodStart, spent: 0, alerted_percent: 0 })
        .onConflict((conflict) => conflict.columns(['scope', 'period_start']).doNothing())
        .execute();
      const result = await db
        .updateTable('budget_spend')
        .set({ alerted_percent: percent })
        .where('scope', '=', scope)
        .where('period_start', '=', BigInt(periodStart))
        .where('alerted_percent', '<', BigInt(percent))
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },
    async appendAudit(entry) {
      await db
        .insertInto('audit_log')
        .values({
          id: entry.id,
          at: entry.at,
          actor: entry.actor,
          action: entry.action,
          target_type: entry.targetType,
          target_id: entry.targetId,
          before:
            entry.before === undefined || entry.before === null
              ? null
              : JSON.stringify(entry.before),
          after:
            entry.after === undefined || entry.after === null ? null : JSON.stringify(entry.after),
          request_id: entry.requestId,
        })
        .execute();
    },
    async listAudit(filter = {}) {
      const limit = Math.min(Math.max(Math.trunc(filter.limit ?? 100), 1), 1000);
      let query = db.selectFrom('audit_log').selectAll();
      if (filter.targetType !== undefined)
        query = query.where('target_type', '=', filter.targetType);
      if (filter.targetId !== undefined) query = query.where('target_id', '=', filter.targetId);
      if (filter.after !== undefined) {
        const cursor = await db
          .selectFrom('audit_log')
          .select('at')
          .where('id', '=', filter.after)
          .executeTakeFirst();
        if (cursor) {
          const { at } = cursor;
          const id = filter.after;
          query = query.where((eb) =>
            eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '<', id)])]),
          );
        }
      }
      const rows = await query.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map((row) => ({
        id: row.id,
        at: toNumber(row.at),
        actor: row.actor,
        action: row.action,
        targetType: row.target_type,
        targetId: row.target_id,
        before: parseJson<unknown>(row.before, 'before'),
        after: parseJson<unknown>(row.after, 'after'),
        requestId: row.request_id,
      }));
    },
  };
}
