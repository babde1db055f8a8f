import type { Budget, BudgetRule, Limits } from './policy.js';

/** What callers of the admin service send: who makes a change, and the fields it sets. */

/** Who made a change, for the audit log. */
export interface Actor {
  actor: string;
  requestId: string | null;
}

/** Fields to set on a tenant, project or key; limits merge field by field (null clears one). */
export interface EntityPatch {
  name?: string | undefined;
  status?: 'active' | 'disabled' | undefined;
  metadata?: Record<string, string> | null | undefined;
  tags?: string[] | undefined;
  limits?: { [K in keyof Limits]?: number | null } | undefined;
  /** Replaces the budget; null removes it. */
  budget?: Budget | null | undefined;
  /** Replaces the budget rules (per model pattern, per end user); null or [] removes them. */
  budgetRules?: BudgetRule[] | null | undefined;
}

/** A new tenant. */
export interface TenantInput extends EntityPatch {
  id?: string | undefined;
  name: string;
}

/** A new project. */
export interface ProjectInput extends TenantInput {
  tenantId: string;
}

/** Fields to set on a key. */
export interface KeyPatch extends EntityPatch {
  allowedModels?: string[] | null | undefined;
  expiresAt?: number | null | undefined;
  /** Every call with the key answers `usage.cost` in its body. */
  includeCost?: boolean | undefined;
}

/** A new key. */
export interface KeyInput extends KeyPatch {
  projectId: string;
}
