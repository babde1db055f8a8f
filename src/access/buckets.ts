import { createHash } from 'node:crypto';
import type { BudgetBucket } from './budgets.js';
import { type Budget, budgetScope, type Level, modelAllowed, periodOf } from './policy.js';

/**
 * Which budget buckets a request charges. Each level (tenant, project, key) contributes its own
 * budget, and each of its budget rules whose model patterns match the request's model: a
 * per-user rule charges the bucket of the request's end user (`safety_identifier`, else
 * `user`, as the memory tool reads it). Requests naming no end user share one bucket per rule, so leaving the
 * field out never escapes the cap. Buckets are plain scopes of the budget counters, so memory
 * and Redis counters keep them exact exactly as they keep a level's own budget.
 */

/** One bucket a request charges, with what alerts and error messages need. */
export interface ChargedBucket {
  bucket: BudgetBucket;
  level: Level;
  budget: Budget;
  /** How an error or alert names it: `key k1`, `key k1, models gpt-4o*, user alice`. */
  label: string;
}

/** End-user ids longer than this are hashed in the scope (it is a database key). */
const MAX_USER_IN_SCOPE = 64;

/** The scope of a rule's bucket: `key:k1:month:models=gpt-4o*,o3[:user=alice]`. */
export function ruleScope(
  level: Pick<Level, 'kind' | 'id'>,
  rule: { period: Budget['period']; models: string[] | null; perUser: boolean },
  endUser?: string | undefined,
): string {
  const models = `models=${rule.models === null ? '*' : [...rule.models].sort().join(',')}`;
  const base = `${budgetScope(level, rule.period)}:${models}`;
  return rule.perUser ? `${base}:user=${userKey(endUser ?? '')}` : base;
}

function userKey(user: string): string {
  const encoded = encodeURIComponent(user);
  return encoded.length <= MAX_USER_IN_SCOPE
    ? encoded
    : `sha256-${createHash('sha256').update(user).digest('hex').slice(0, 32)}`;
}

/** The buckets a request for `model` by `endUser` charges at `now`, in level order. */
export function chargedBuckets(
  levels: Level[],
  model: string,
  endUser: string | undefined,
  now: number,
): ChargedBucket[] {
  const charged: ChargedBucket[] = [];
  const seen = new Set<string>();
  const add = (level: Level, budget: Budget, scope: string, label: string) => {
    if (seen.has(scope)) return;
    seen.add(scope);
    const period = periodOf(budget.period, now);
    charged.push({
      level,
      budget,
      label,
      bucket: {
        scope,
        periodStart: period.start,
        periodEnd: period.end,
        limit: budget.amountMicros,
        hard: budget.mode === 'hard',
      },
    });
  };
  for (const level of levels) {
    const { budget, budgetRules } = level.policy;
    const name = `${level.kind} ${level.id}`;
    if (budget) add(level, budget, budgetScope(level, budget.period), name);
    for (const rule of budgetRules ?? []) {
      if (!modelAllowed(rule.models, model)) continue;
      const parts = [name];
      if (rule.models !== null) parts.push(`models ${rule.models.join(',')}`);
      if (rule.perUser) parts.push(endUser ? `user ${endUser}` : 'requests without a user');
      add(level, rule, ruleScope(level, rule, endUser), parts.join(', '));
    }
  }
  return charged;
}

/** The end user a request names: `safety_identifier`, else `user` (non-empty strings only). */
export function endUserOf(body: Record<string, unknown>): string | undefined {
  for (const field of ['safety_identifier', 'user']) {
    const value = body[field];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}
