import type { Kysely, Selectable } from 'kysely';
import type {
  AccessSchema,
  ApiKeysTable,
  EntityColumns,
  PolicyColumns,
  ProjectsTable,
} from './schema.js';
import type { Database } from '../database.js';
import { parseJson, toBigInt, toNumber, toNumberOrNull } from '../internal/convert.js';
import type { Schema } from '../schema.js';
import { merged } from '../../core/objects.js';

/** The query builder over the shared schema plus the access tables. */
export type AccessDb = Kysely<Schema & AccessSchema>;

/** The access tables' view of an open database. */
export function accessDb(database: Database): AccessDb {
  return database.db as unknown as AccessDb;
}

/** Rate limits of one level; an absent field means no limit. */
export interface Limits {
  /** Requests per minute. */
  rpm?: number | undefined;
  /** Tokens (input + output) per minute. */
  tpm?: number | undefined;
  /** Requests in flight at once. */
  maxConcurrent?: number | undefined;
}

/** Budget period: calendar day, ISO week (from Monday) or month in UTC, or the whole lifetime. */
export type BudgetPeriod = 'day' | 'week' | 'month' | 'total';

/** A spending cap, in µUSD. */
export interface Budget {
  amountMicros: bigint;
  period: BudgetPeriod;
  /** `hard` refuses requests that could spend past the amount; `soft` only alerts. */
  mode: 'hard' | 'soft';
  /** Percent of the amount at which an alert fires (once per period); undefined = none. */
  alertPercent?: number | undefined;
}

/**
 * A finer-grained budget inside a level: it charges only requests for models matching
 * `models` (patterns as in allowed models; null = every model), and with `perUser` each end
 * user (`user` / `safety_identifier` of the request) has a bucket of its own.
 */
export interface BudgetRule extends Budget {
  models: string[] | null;
  perUser: boolean;
}

/** Limits and budget of one tenant, project or key. */
export interface Policy {
  limits: Limits;
  budget: Budget | null;
  /** Budgets per model pattern and per end user (access/buckets.ts); absent = none. */
  budgetRules?: BudgetRule[] | undefined;
}

/** Whether an entity may be used. */
export type EntityStatus = 'active' | 'disabled';

/** Fields every tenant, project and key has. */
export interface EntityRecord {
  id: string;
  name: string;
  status: EntityStatus;
  metadata: Record<string, string> | null;
  tags: string[];
  policy: Policy;
  createdAt: number;
  updatedAt: number;
}

/** An organisation. */
export type TenantRecord = EntityRecord;

/** A project inside a tenant. */
export interface ProjectRecord extends EntityRecord {
  tenantId: string;
}

/** A virtual key. Its secrets are stored as hashes in `api_key_secrets`. */
export interface KeyRecord extends EntityRecord {
  tenantId: string;
  projectId: string;
  /** Model patterns; null = every model. */
  allowedModels: string[] | null;
  /** Display prefix of the newest secret. */
  prefix: string;
  expiresAt: number | null;
  revokedAt: number | null;
  /** Every call made with this key answers `usage.cost` in its body (as `billing.costInBody`). */
  includeCost: boolean;
}

/** Policy → columns. */
export function policyColumns(policy: Policy): Omit<
  PolicyColumns,
  'rpm' | 'tpm' | 'max_concurrent' | 'budget_alert_percent' | 'budget_micros'
> & {
  rpm: number | null;
  tpm: number | null;
  max_concurrent: number | null;
  budget_micros: bigint | null;
  budget_alert_percent: number | null;
} {
  const { limits, budget, budgetRules } = policy;
  return {
    rpm: limits.rpm ?? null,
    tpm: limits.tpm ?? null,
    max_concurrent: limits.maxConcurrent ?? null,
    budget_micros: budget?.amountMicros ?? null,
    budget_period: budget?.period ?? null,
    budget_mode: budget?.mode ?? null,
    budget_alert_percent: budget?.alertPercent ?? null,
    budget_rules:
      budgetRules && budgetRules.length > 0
        ? JSON.stringify(
            budgetRules.map((rule) => ({
              models: rule.models,
              perUser: rule.perUser,
              amountMicros: rule.amountMicros.toString(),
              period: rule.period,
              mode: rule.mode,
              alertPercent: rule.alertPercent ?? null,
            })),
          )
        : null,
  };
}

/** `budget_rules` JSON → rules (amounts stored as decimal strings: JSON has no bigint). */
function rulesFrom(text: string | null | undefined): BudgetRule[] {
  const raw = parseJson<Array<Record<string, unknown>>>(text ?? null, 'budget_rules') ?? [];
  return raw.map((rule) => {
    const parsed: BudgetRule = {
      models: Array.isArray(rule['models']) ? (rule['models'] as string[]) : null,
      perUser: rule['perUser'] === true,
      amountMicros: BigInt(String(rule['amountMicros'])),
      period: rule['period'] as BudgetPeriod,
      mode: rule['mode'] === 'soft' ? 'soft' : 'hard',
    };
    if (typeof rule['alertPercent'] === 'number') parsed.alertPercent = rule['alertPercent'];
    return parsed;
  });
}

/** Entity columns (without id and times) from a record's fields. */
export function entityColumns(
  record: Pick<EntityRecord, 'name' | 'status' | 'metadata' | 'tags' | 'policy'>,
) {
  return {
    name: record.name,
    status: record.status,
    metadata: record.metadata === null ? null : JSON.stringify(record.metadata),
    tags: JSON.stringify(record.tags),
    ...policyColumns(record.policy),
  };
}

function policyFrom(row: Selectable<PolicyColumns>): Policy {
  const limits: Limits = {};
  const rpm = toNumberOrNull(row.rpm);
  const tpm = toNumberOrNull(row.tpm);
  const maxConcurrent = toNumberOrNull(row.max_concurrent);
  if (rpm !== null) limits.rpm = rpm;
  if (tpm !== null) limits.tpm = tpm;
  if (maxConcurrent !== null) limits.maxConcurrent = maxConcurrent;
  let budget: Budget | null = null;
  if (row.budget_micros !== null && row.budget_period !== null) {
    budget = {
      amountMicros: toBigInt(row.budget_micros),
      period: row.budget_period as BudgetPeriod,
      mode: row.budget_mode === 'soft' ? 'soft' : 'hard',
    };
    const alert = toNumberOrNull(row.budget_alert_percent);
    if (alert !== null) budget.alertPercent = alert;
  }
  const budgetRules = rulesFrom(row.budget_rules);
  return budgetRules.length > 0 ? { limits, budget, budgetRules } : { limits, budget };
}

/** Row → tenant. */
export function entityFrom(row: Selectable<EntityColumns>): EntityRecord {
  return {
    id: row.id,
    name: row.name,
    status: row.status === 'disabled' ? 'disabled' : 'active',
    metadata: parseJson<Record<string, string>>(row.metadata, 'metadata'),
    tags: parseJson<string[]>(row.tags, 'tags') ?? [],
    policy: policyFrom(row),
    createdAt: toNumber(row.created_at),
    updatedAt: toNumber(row.updated_at),
  };
}

/** Row → project. */
export function projectFrom(row: Selectable<ProjectsTable>): ProjectRecord {
  return merged(entityFrom(row), { tenantId: row.tenant_id });
}

/** Row → key. */
export function keyFrom(row: Selectable<ApiKeysTable>): KeyRecord {
  return merged(entityFrom(row), {
    tenantId: row.tenant_id,
    projectId: row.project_id,
    allowedModels: parseJson<string[]>(row.allowed_models, 'allowed_models'),
    prefix: row.key_prefix,
    expiresAt: toNumberOrNull(row.expires_at),
    revokedAt: toNumberOrNull(row.revoked_at),
    includeCost: Number(row.include_cost) === 1,
  });
}
