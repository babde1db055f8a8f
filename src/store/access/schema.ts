import type { DefaultedInt, Int32Nullable, Int64, Int64Nullable } from '../schema.js';

/**
 * Tables of access control: tenants, projects, virtual keys (with their hashed secrets), budget
 * spend and the audit log. Policy columns (limits and budget) are the same on tenants, projects
 * and keys.
 */

/** Limits and budget columns shared by tenants, projects and keys; NULL = not set. */
export interface PolicyColumns {
  rpm: Int32Nullable;
  tpm: Int32Nullable;
  max_concurrent: Int32Nullable;
  /** µUSD. */
  budget_micros: Int64Nullable;
  /** day | week | month | total */
  budget_period: string | null;
  /** hard | soft */
  budget_mode: string | null;
  budget_alert_percent: Int32Nullable;
  /** JSON array of budget rules (per model pattern, per end user), or NULL (migration 0010). */
  budget_rules: string | null;
}

/** Columns every managed entity has. */
export interface EntityColumns extends PolicyColumns {
  id: string;
  name: string;
  /** active | disabled */
  status: string;
  /** JSON object of strings, or NULL. */
  metadata: string | null;
  /** JSON array of strings. */
  tags: string;
  created_at: Int64;
  updated_at: Int64;
}

/** `tenants`: organisations. */
export type TenantsTable = EntityColumns;

/** `projects`: belong to a tenant. */
export interface ProjectsTable extends EntityColumns {
  tenant_id: string;
}

/** `api_keys`: virtual keys, belonging to a project. The secret lives in `api_key_secrets`. */
export interface ApiKeysTable extends EntityColumns {
  tenant_id: string;
  project_id: string;
  /** JSON array of model patterns, or NULL for all models. */
  allowed_models: string | null;
  /** Display prefix of the newest secret (`sk-sy-AbCd…`). */
  key_prefix: string;
  expires_at: Int64Nullable;
  revoked_at: Int64Nullable;
  /** 1: every call with this key answers `usage.cost` in its body (migration 0013). */
  include_cost: DefaultedInt;
}

/** `api_key_secrets`: SHA-256 hashes of a key's secrets; several during a rotation grace period. */
export interface ApiKeySecretsTable {
  hash: string;
  key_id: string;
  prefix: string;
  created_at: Int64;
  /** When this secret stops working (set on rotation); NULL = as long as the key. */
  expires_at: Int64Nullable;
}

/** `budget_spend`: real spend per budget bucket (`key:<id>:month`) and period start. The record of truth. */
export interface BudgetSpendTable {
  scope: string;
  period_start: Int64;
  /** µUSD. */
  spent: Int64;
  /** Highest alert threshold already announced in this period (percent), or 0. */
  alerted_percent: Int64;
}

/** `audit_log`: every admin change. */
export interface AuditLogTable {
  id: string;
  at: Int64;
  /** `master`, `loopback`, or a key id. */
  actor: string;
  /** `tenant.create`, `key.rotate`, ... */
  action: string;
  target_type: string;
  target_id: string;
  /** JSON snapshots, or NULL (before of a create). */
  before: string | null;
  after: string | null;
  request_id: string | null;
}

/** The access tables, merged into the database `Schema`. */
export interface AccessSchema {
  tenants: TenantsTable;
  projects: ProjectsTable;
  api_keys: ApiKeysTable;
  api_key_secrets: ApiKeySecretsTable;
  budget_spend: BudgetSpendTable;
  audit_log: AuditLogTable;
}
