import type { TenantRecord, Page } from '../store/index.js';
import type { AdminContext } from './admin-context.js';
import type { Actor, EntityPatch, TenantInput } from './admin-inputs.js';
import { tenantJson } from './admin-json.js';
import { applied, blank, conflict, found, newId } from './admin-records.js';

/** Tenants: create, list, read, change. */
export interface TenantAdmin {
  createTenant(input: TenantInput, actor: Actor): Promise<TenantRecord>;
  listTenants(page?: Page): Promise<TenantRecord[]>;
  getTenant(id: string): Promise<TenantRecord>;
  updateTenant(id: string, patch: EntityPatch, actor: Actor): Promise<TenantRecord>;
}

/** The tenant methods of the admin service. */
export function createTenantAdmin({ deps, repository, change }: AdminContext): TenantAdmin {
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
  };
}
