import type { AccessDb, EntityRecord, KeyRecord, ProjectRecord, TenantRecord } from './records.js';
import { entityColumns, entityFrom, keyFrom, projectFrom } from './records.js';
import { toNumberOrNull } from '../internal/convert.js';
import { merged } from '../../core/objects.js';

/** Paging of admin lists: ascending ids after a cursor. */
export interface Page {
  /** 1–1000; default 100. */
  limit?: number | undefined;
  /** The last id of the previous page. */
  after?: string | undefined;
}

/** A key found by the hash of one of its secrets, with everything above it. */
export interface KeyLookup {
  key: KeyRecord;
  project: ProjectRecord;
  tenant: TenantRecord;
  /** When this particular secret stops working (rotation grace), or null. */
  secretExpiresAt: number | null;
}

/** Reads and writes tenants, projects, keys and key secrets. Pass a transaction to group writes. */
export interface AccessRepository {
  insertTenant(tenant: TenantRecord): Promise<void>;
  getTenant(id: string): Promise<TenantRecord | undefined>;
  listTenants(page?: Page): Promise<TenantRecord[]>;
  updateTenant(tenant: TenantRecord): Promise<void>;
  insertProject(project: ProjectRecord): Promise<void>;
  getProject(id: string): Promise<ProjectRecord | undefined>;
  listProjects(filter?: Page & { tenantId?: string | undefined }): Promise<ProjectRecord[]>;
  updateProject(project: ProjectRecord): Promise<void>;
  /** Inserts the key and its first secret. */
  insertKey(key: KeyRecord, secret: { hash: string; prefix: string }): Promise<void>;
  getKey(id: string): Promise<KeyRecord | undefined>;
  listKeys(
    filter?: Page & { tenantId?: string | undefined; projectId?: string | undefined },
  ): Promise<KeyRecord[]>;
  updateKey(key: KeyRecord): Promise<void>;
  /** Adds a secret to a key; every older secret without an earlier end now ends at `othersExpireAt`. */
  addSecret(
    keyId: string,
    secret: { hash: string; prefix: string },
    at: number,
    othersExpireAt: number,
  ): Promise<void>;
  /** The key holding a secret with this hash, or undefined. */
  findByHash(hash: string): Promise<KeyLookup | undefined>;
  /** The key with this id and its project and tenant, or undefined. */
  findById(keyId: string): Promise<Omit<KeyLookup, 'secretExpiresAt'> | undefined>;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** Creates an {@link AccessRepository} over a database handle or a transaction. */
export function createAccessRepository(db: AccessDb): AccessRepository {
  const limitOf = (page: Page | undefined) =>
    Math.min(Math.max(Math.trunc(page?.limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT);
  const entityRow = (record: EntityRecord) =>
    merged(entityColumns(record), {
      updated_at: record.updatedAt,
    });

  const lookup = async (keyId: string) => {
    const key = await db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', keyId)
      .executeTakeFirst();
    if (!key) return undefined;
    const [project, tenant] = await Promise.all([
      db
        .selectFrom('projects')
        .selectAll()
        .where('id', '=', key.project_id)
        .executeTakeFirstOrThrow(),
      db
        .selectFrom('tenants')
        .selectAll()
        .where('id', '=', key.tenant_id)
        .executeTakeFirstOrThrow(),
    ]);
    return { key: keyFrom(key), project: projectFrom(project), tenant: entityFrom(tenant) };
  };

  return {
    async insertTenant(tenant) {
      await db
        .insertInto('tenants')
        .values({ id: tenant.id, ...entityRow(tenant), created_at: tenant.createdAt })
        .execute();
    },
    async getTenant(id) {
      const row = await db
        .selectFrom('tenants')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row && entityFrom(row);
    },
    async listTenants(page) {
      let query = db.selectFrom('tenants').selectAll();
      if (page?.after !== undefined) query = query.where('id', '>', page.after);
      const rows = await query.orderBy('id').limit(limitOf(page)).execute();
      return rows.map(entityFrom);
    },
    async updateTenant(tenant) {
      await db.updateTable('tenants').set(entityRow(tenant)).where('id', '=', tenant.id).execute();
    },

    async insertProject(project) {
      await db
        .insertInto('projects')
        .values({
          id: project.id,
          tenant_id: project.tenantId,
          ...entityRow(project),
          created_at: project.createdAt,
        })
        .execute();
    },
    async getProject(id) {
      const row = await db
        .selectFrom('projects')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row && projectFrom(row);
    },
    async listProjects(filter) {
      let query = db.selectFrom('projects').selectAll();
      if (filter?.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId);
      if (filter?.after !== undefined) query = query.where('id', '>', filter.after);
      const rows = await query.orderBy('id').limit(limitOf(filter)).execute();
      return rows.map(projectFrom);
    },
    async updateProject(project) {
      await db
        .updateTable('projects')
        .set(entityRow(project))
        .where('id', '=', project.id)
        .execute();
    },

    async insertKey(key, secret) {
      await db
        .insertInto('api_keys')
        .values({
          id: key.id,
          tenant_id: key.tenantId,
          project_id: key.projectId,
          ...keyColumns(key),
          ...entityRow(key),
          created_at: key.createdAt,
        })
        .execute();
      await db
        .insertInto('api_key_secrets')
        .values({
          hash: secret.hash,
          key_id: key.id,
          prefix: secret.prefix,
          created_at: key.createdAt,
          expires_at: null,
        })
        .execute();
    },
    async getKey(id) {
      const row = await db
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row && keyFrom(row);
    },
    async listKeys(filter) {
      let query = db.selectFrom('api_keys').selectAll();
      if (filter?.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId);
      if (filter?.projectId !== undefined) query = query.where('project_id', '=', filter.projectId);
      if (filter?.after !== undefined) query = query.where('id', '>', filter.after);
      const rows = await query.orderBy('id').limit(limitOf(filter)).execute();
      return rows.map(keyFrom);
    },
    async updateKey(key) {
      await db
        .updateTable('api_keys')
        .set(merged(keyColumns(key), entityRow(key)))
        .where('id', '=', key.id)
        .execute();
    },
    async addSecret(keyId, secret, at, othersExpireAt) {
      await db
        .updateTable('api_key_secrets')
        .set({ expires_at: othersExpireAt })
        .where('key_id', '=', keyId)
        .where((eb) =>
          eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', BigInt(othersExpireAt))]),
        )
        .execute();
      await db
        .insertInto('api_key_secrets')
        .values({
          hash: secret.hash,
          key_id: keyId,
          prefix: secret.prefix,
          created_at: at,
          expires_at: null,
        })
        .execute();
    },
    async findByHash(hash) {
      const secret = await db
        .selectFrom('api_key_secrets')
        .select(['key_id', 'expires_at'])
        .where('hash', '=', hash)
        .executeTakeFirst();
      if (!secret) return undefined;
      const found = await lookup(secret.key_id);
      return found && merged(found, { secretExpiresAt: toNumberOrNull(secret.expires_at) });
    },
    findById: lookup,
  };
}

function keyColumns(key: KeyRecord) {
  return {
    allowed_models: key.allowedModels === null ? null : JSON.stringify(key.allowedModels),
    key_prefix: key.prefix,
    expires_at: key.expiresAt,
    revoked_at: key.revokedAt,
    include_cost: key.includeCost ? 1 : 0,
  };
}
