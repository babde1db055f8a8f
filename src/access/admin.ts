import type { Clock } from '../core/clock.js';
import { randomId } from '../core/ids.js';
import { GatewayError, invalidRequest } from '../errors/index.js';
import {
  type AccessDb,
  type AccessLedger,
  type AccessRepository,
  type AuditEntry,
  type AuditFilter,
  accessDb,
  createAccessLedger,
  createAccessRepository,
  type Database,
  type EntityRecord,
  type KeyRecord,
  type Page,
  type ProjectRecord,
  type TenantRecord,
} from '../store/index.js';
import { keyJson, projectJson, tenantJson } from './admin-json.js';
import type { LevelStatus } from './types.js';

export type { LevelStatus } from './types.js';
import type { BudgetCounters } from './budgets.js';
import {
  type Budget,
  type BudgetRule,
  budgetScope,
  type Level,
  type Limits,
  periodOf,
} from './policy.js';
import { newSecret } from './secrets.js';
import { merged } from '../core/objects.js';

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

/** Management of tenants, projects and keys; every change is audited. */
export interface AccessAdmin {
  createTenant(input: TenantInput, actor: Actor): Promise<TenantRecord>;
  listTenants(page?: Page): Promise<TenantRecord[]>;
  getTenant(id: string): Promise<TenantRecord>;
  updateTenant(id: string, patch: EntityPatch, actor: Actor): Promise<TenantRecord>;
  createProject(input: ProjectInput, actor: Actor): Promise<ProjectRecord>;
  listProjects(filter?: Page & { tenantId?: string | undefined }): Promise<ProjectRecord[]>;
  getProject(id: string): Promise<ProjectRecord>;
  updateProject(id: string, patch: EntityPatch, actor: Actor): Promise<ProjectRecord>;
  /** Creates a key; the secret is in the answer and nowhere else. */
  createKey(input: KeyInput, actor: Actor): Promise<{ key: KeyRecord; secret: string }>;
  listKeys(
    filter?: Page & { tenantId?: string | undefined; projectId?: string | undefined },
  ): Promise<KeyRecord[]>;
  getKey(id: string): Promise<KeyRecord>;
  updateKey(id: string, patch: KeyPatch, actor: Actor): Promise<KeyRecord>;
  /** New secret; the old ones keep working for `graceMs` (0 = stop at once). */
  rotateKey(
    id: string,
    graceMs: number,
    actor: Actor,
  ): Promise<{ key: KeyRecord; secret: string; previousValidUntil: number }>;
  /** Revokes at once, on every replica. */
  revokeKey(id: string, actor: Actor): Promise<KeyRecord>;
  /** Limits, budget and current-period spend of each level above and including the entity. */
  status(kind: Level['kind'], id: string): Promise<LevelStatus[]>;
  listAudit(filter?: AuditFilter): Promise<AuditEntry[]>;
}

/** What {@link createAccessAdmin} needs. */
export interface AccessAdminDeps {
  database: Database;
  budgets: BudgetCounters;
  clock: Clock;
  /** Called after every committed change (clears key caches on every replica). */
  changed: () => Promise<void>;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Creates the admin service. */
export function createAccessAdmin(deps: AccessAdminDeps): AccessAdmin {
  const db = accessDb(deps.database);
  const repository = createAccessRepository(db);
  const ledger = createAccessLedger(db);

  /** Runs `work` in a transaction with an audit entry, then announces the change. */
  const change = async <T>(
    work: (
      repo: AccessRepository,
      audit: (entry: Omit<AuditEntry, 'id' | 'at' | 'actor' | 'requestId'>) => Promise<void>,
    ) => Promise<T>,
    actor: Actor,
  ): Promise<T> => {
    const at = deps.clock();
    const result = await db.transaction().execute(async (trx) => {
      const auditLedger: AccessLedger = createAccessLedger(trx as unknown as AccessDb);
      return work(createAccessRepository(trx as unknown as AccessDb), (entry) =>
        auditLedger.appendAudit(
          merged(entry, {
            id: randomId('aud_'),
            at,
            actor: actor.actor,
            requestId: actor.requestId,
          }),
        ),
      );
    });
    await deps.changed();
    return result;
  };

  const found = <T>(value: T | undefined, what: string, id: string): T => {
    if (value === undefined)
      throw new GatewayError(`No ${what} with id "${id}"`, {
        code: 'not_found',
        status: 404,
        errorClass: 'not_found',
        retryable: false,
        failover: false,
      });
    return value;
  };

  const newId = (given: string | undefined, prefix: string) => {
    if (given === undefined) return randomId(prefix, 16);
    if (!ID.test(given))
      throw invalidRequest(
        'id must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
        'id',
      );
    return given;
  };

  const applied = <R extends EntityRecord>(record: R, patch: EntityPatch, now: number): R => {
    const limits: Limits = { ...record.policy.limits };
    for (const [field, value] of Object.entries(patch.limits ?? {}) as Array<
      [keyof Limits, number | null | undefined]
    >) {
      if (value === null) delete limits[field];
      else if (value !== undefined) limits[field] = value;
    }
    return merged(record, {
      name: patch.name ?? record.name,
      status: patch.status ?? record.status,
      metadata: patch.metadata === undefined ? record.metadata : patch.metadata,
      tags: patch.tags ?? record.tags,
      policy: {
        limits,
        budget: patch.budget === undefined ? record.policy.budget : patch.budget,
        budgetRules:
          patch.budgetRules === undefined
            ? record.policy.budgetRules
            : (patch.budgetRules ?? undefined),
      },
      updatedAt: now,
    }) as unknown as R; // R's own fields stay: only these are replaced
  };

  const blank = (id: string, input: TenantInput, now: number): EntityRecord =>
    applied(
      {
        id,
        name: input.name,
        status: 'active',
        metadata: null,
        tags: [],
        policy: { limits: {}, budget: null },
        createdAt: now,
        updatedAt: now,
      },
      input,
      now,
    );

  const conflict = (what: string, id: string) =>
    new GatewayError(`A ${what} with id "${id}" already exists`, {
      code: 'invalid_request',
      status: 409,
      errorClass: 'conflict',
      param: 'id',
      retryable: false,
      failover: false,
    });

  return {
    createTenant: (input, actor) =>
      change(async (repo, audit) => {
        const tenant = blank(newId(input.id, 'ten_'), input, deps.clock());
        if (await repo.getTenant(tenant.id)) throw conflict('tenant', tenant.id);
        await repo.insertTenant(tenant);
        await audit({
          action: 'tenant.create',
          targetType: 'tenant',
          targetId: tenant.id,
          before: null,
          after: tenantJson(tenant),
        });
        return tenant;
      }, actor),
    listTenants: (page) => repository.listTenants(page),
    getTenant: async (id) => found(await repository.getTenant(id), 'tenant', id),
    updateTenant: (id, patch, actor) =>
      change(async (repo, audit) => {
        const before = found(await repo.getTenant(id), 'tenant', id);
        const after = applied(before, patch, deps.clock());
        await repo.updateTenant(after);
        await audit({
          action: 'tenant.update',
          targetType: 'tenant',
          targetId: id,
          before: tenantJson(before),
          after: tenantJson(after),
        });
        return after;
      }, actor),

    createProject: (input, actor) =>
      change(async (repo, audit) => {
        found(await repo.getTenant(input.tenantId), 'tenant', input.tenantId);
        const project: ProjectRecord = merged(blank(newId(input.id, 'prj_'), input, deps.clock()), {
          tenantId: input.tenantId,
        });
        if (await repo.getProject(project.id)) throw conflict('project', project.id);
        await repo.insertProject(project);
        await audit({
          action: 'project.create',
          targetType: 'project',
          targetId: project.id,
          before: null,
          after: projectJson(project),
        });
        return project;
      }, actor),
    listProjects: (filter) => repository.listProjects(filter),
    getProject: async (id) => found(await repository.getProject(id), 'project', id),
    updateProject: (id, patch, actor) =>
      change(async (repo, audit) => {
        const before = found(await repo.getProject(id), 'project', id);
        const after = applied(before, patch, deps.clock());
        await repo.updateProject(after);
        await audit({
          action: 'project.update',
          targetType: 'project',
          targetId: id,
          before: projectJson(before),
          after: projectJson(after),
        });
        return after;
      }, actor),

    createKey: (input, actor) =>
      change(async (repo, audit) => {
        const project = found(await repo.getProject(input.projectId), 'project', input.projectId);
        const now = deps.clock();
        const secret = newSecret();
        const key: KeyRecord = merged(
          blank(newId(undefined, 'key_'), merged(input, { name: input.name ?? 'key' }), now),
          {
            tenantId: project.tenantId,
            projectId: project.id,
            allowedModels: input.allowedModels ?? null,
            prefix: secret.prefix,
            expiresAt: input.expiresAt ?? null,
            revokedAt: null,
            includeCost: input.includeCost ?? false,
          },
        );
        await repo.insertKey(key, secret);
        await audit({
          action: 'key.create',
          targetType: 'key',
          targetId: key.id,
          before: null,
          after: keyJson(key),
        });
        return { key, secret: secret.secret };
      }, actor),
    listKeys: (filter) => repository.listKeys(filter),
    getKey: async (id) => found(await repository.getKey(id), 'key', id),
    updateKey: (id, patch, actor) =>
      change(async (repo, audit) => {
        const before = found(await repo.getKey(id), 'key', id);
        const after: KeyRecord = merged(applied(before, patch, deps.clock()), {
          allowedModels:
            patch.allowedModels === undefined ? before.allowedModels : patch.allowedModels,
          expiresAt: patch.expiresAt === undefined ? before.expiresAt : patch.expiresAt,
          includeCost: patch.includeCost ?? before.includeCost,
        });
        await repo.updateKey(after);
        await audit({
          action: 'key.update',
          targetType: 'key',
          targetId: id,
          before: keyJson(before),
          after: keyJson(after),
        });
        return after;
      }, actor),
    rotateKey: (id, graceMs, actor) =>
      change(async (repo, audit) => {
        const before = found(await repo.getKey(id), 'key', id);
        if (before.revokedAt !== null)
          throw invalidRequest(`Key ${id} is revoked and cannot be rotated`, 'id');
        const now = deps.clock();
        const secret = newSecret();
        const previousValidUntil = now + Math.max(0, graceMs);
        await repo.addSecret(id, secret, now, previousValidUntil);
        const after: KeyRecord = merged(before, { prefix: secret.prefix, updatedAt: now });
        await repo.updateKey(after);
        await audit({
          action: 'key.rotate',
          targetType: 'key',
          targetId: id,
          before: keyJson(before),
          after: merged(keyJson(after), {
            previous_valid_until: new Date(previousValidUntil).toISOString(),
          }),
        });
        return { key: after, secret: secret.secret, previousValidUntil };
      }, actor),
    revokeKey: (id, actor) =>
      change(async (repo, audit) => {
        const before = found(await repo.getKey(id), 'key', id);
        const now = deps.clock();
        const after: KeyRecord = merged(before, {
          revokedAt: before.revokedAt ?? now,
          updatedAt: now,
        });
        await repo.updateKey(after);
        await audit({
          action: 'key.revoke',
          targetType: 'key',
          targetId: id,
          before: keyJson(before),
          after: keyJson(after),
        });
        return after;
      }, actor),

    async status(kind, id) {
      const chain: Array<{ kind: Level['kind']; record: EntityRecord }> = [];
      if (kind === 'key') {
        const key = found(await repository.getKey(id), 'key', id);
        chain.push({
          kind: 'tenant',
          record: found(await repository.getTenant(key.tenantId), 'tenant', key.tenantId),
        });
        chain.push({
          kind: 'project',
          record: found(await repository.getProject(key.projectId), 'project', key.projectId),
        });
        chain.push({ kind: 'key', record: key });
      } else if (kind === 'project') {
        const project = found(await repository.getProject(id), 'project', id);
        chain.push({
          kind: 'tenant',
          record: found(await repository.getTenant(project.tenantId), 'tenant', project.tenantId),
        });
        chain.push({ kind: 'project', record: project });
      } else {
        chain.push({ kind: 'tenant', record: found(await repository.getTenant(id), 'tenant', id) });
      }
      const now = deps.clock();
      return Promise.all(
        chain.map(async ({ kind: levelKind, record }): Promise<LevelStatus> => {
          const budget = record.policy.budget;
          let spend: LevelStatus['spend'] = null;
          if (budget) {
            const period = periodOf(budget.period, now);
            const bucket = {
              scope: budgetScope({ kind: levelKind, id: record.id }, budget.period),
              periodStart: period.start,
              periodEnd: period.end,
              limit: budget.amountMicros,
              hard: budget.mode === 'hard',
            };
            const state = await deps.budgets.state(bucket);
            const left = budget.amountMicros - state.spent - state.reserved;
            spend = {
              periodStart: period.start,
              periodEnd: period.end,
              spentMicros: state.spent,
              reservedMicros: state.reserved,
              remainingMicros: left > 0n ? left : 0n,
            };
          }
          return {
            kind: levelKind,
            id: record.id,
            name: record.name,
            limits: record.policy.limits,
            budget,
            spend,
          };
        }),
      );
    },
    listAudit: (filter) => ledger.listAudit(filter),
  };
}
