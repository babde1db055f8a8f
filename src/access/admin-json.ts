import type { EntityRecord, KeyRecord, ProjectRecord, TenantRecord } from '../store/index.js';
import type { LevelStatus } from './types.js';
import type { Budget, BudgetRule, Limits, Policy } from './policy.js';
import { merged } from '../core/objects.js';

/**
 * The admin API's JSON shapes (snake_case, money as decimal strings of µUSD, times as ISO
 * strings). Audit entries store the same shapes as their before/after snapshots.
 */

/** Limits as JSON. */
export interface LimitsJson {
  rpm: number | null;
  tpm: number | null;
  max_concurrent: number | null;
}

/** A budget as JSON. */
export interface BudgetJson {
  amount_micros: string;
  period: Budget['period'];
  mode: Budget['mode'];
  alert_percent: number | null;
}

/** Limits → JSON. */
export function limitsJson(limits: Limits): LimitsJson {
  return {
    rpm: limits.rpm ?? null,
    tpm: limits.tpm ?? null,
    max_concurrent: limits.maxConcurrent ?? null,
  };
}

/** Budget → JSON. */
export function budgetJson(budget: Budget | null): BudgetJson | null {
  if (!budget) return null;
  return {
    amount_micros: budget.amountMicros.toString(),
    period: budget.period,
    mode: budget.mode,
    alert_percent: budget.alertPercent ?? null,
  };
}

/** A budget rule as JSON: the budget's fields plus `models` and `per_user`. */
export function budgetRuleJson(rule: BudgetRule) {
  return merged(budgetJson(rule)!, { models: rule.models, per_user: rule.perUser });
}

function policyJson(policy: Policy) {
  return {
    limits: limitsJson(policy.limits),
    budget: budgetJson(policy.budget),
    budget_rules: (policy.budgetRules ?? []).map(budgetRuleJson),
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function entityJson(record: EntityRecord, object: string) {
  return {
    id: record.id,
    object,
    name: record.name,
    status: record.status,
    metadata: record.metadata,
    tags: record.tags,
    ...policyJson(record.policy),
    created_at: iso(record.createdAt),
    updated_at: iso(record.updatedAt),
  };
}

/** A tenant as JSON. */
export function tenantJson(tenant: TenantRecord) {
  return entityJson(tenant, 'tenant');
}

/** A project as JSON. */
export function projectJson(project: ProjectRecord) {
  return merged(entityJson(project, 'project'), { tenant_id: project.tenantId });
}

/** A key as JSON (never its secret or hash: only the display prefix). */
export function keyJson(key: KeyRecord) {
  return merged(entityJson(key, 'key'), {
    tenant_id: key.tenantId,
    project_id: key.projectId,
    prefix: key.prefix,
    allowed_models: key.allowedModels,
    expires_at: iso(key.expiresAt),
    revoked_at: iso(key.revokedAt),
    include_cost: key.includeCost,
  });
}

/** A level's limits, budget and current-period spend as JSON ("limits in force"). */
export function levelStatusJson(status: LevelStatus) {
  const spend = status.spend;
  return {
    kind: status.kind,
    id: status.id,
    name: status.name,
    limits: limitsJson(status.limits),
    budget: budgetJson(status.budget),
    spend: spend && {
      period_start: iso(spend.periodStart),
      period_end: Number.isFinite(spend.periodEnd) ? iso(spend.periodEnd) : null,
      spent_micros: spend.spentMicros.toString(),
      reserved_micros: spend.reservedMicros.toString(),
      remaining_micros: spend.remainingMicros === null ? null : spend.remainingMicros.toString(),
    },
  };
}
