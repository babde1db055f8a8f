import type { Config } from '../config/index.js';
import { entityColumns } from '../store/access/records.js';
import { accessDb, type Database } from '../store/index.js';
import { displayPrefix, hashSecret } from './secrets.js';
import { merged } from '../core/objects.js';

const EMPTY = {
  status: 'active' as const,
  metadata: null,
  tags: [] as string[],
  policy: { limits: {}, budget: null },
};

/**
 * Seeds the `keys:` section of the config into the database, for reproducible set-ups: each
 * entry's tenant and project are created when missing, and the key (id = its `name`, else
 * `seed-<index>`) with its secret's hash. Existing rows are left as they are (admin changes win);
 * a seeded key whose secret changed in the config gets the new secret, and the old one stops
 * working. Safe to run from several processes at once.
 */
export async function seedKeys(input: {
  database: Database;
  keys: Config['keys'];
  now: number;
}): Promise<void> {
  if (input.keys.length === 0) return;
  const db = accessDb(input.database);
  const { now } = input;
  for (const [index, seed] of input.keys.entries()) {
    const keyId = seed.name ?? `seed-${index}`;
    await db
      .insertInto('tenants')
      .values({
        id: seed.tenant,
        ...entityColumns(merged(EMPTY, { name: seed.tenant })),
        created_at: now,
        updated_at: now,
      })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .execute();
    await db
      .insertInto('projects')
      .values({
        id: seed.project,
        tenant_id: seed.tenant,
        ...entityColumns(merged(EMPTY, { name: seed.project })),
        created_at: now,
        updated_at: now,
      })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .execute();
    const project = await db
      .selectFrom('projects')
      .select('tenant_id')
      .where('id', '=', seed.project)
      .executeTakeFirstOrThrow();
    if (project.tenant_id !== seed.tenant) {
      throw new Error(
        `keys[${index}]: project "${seed.project}" already belongs to tenant "${project.tenant_id}", not "${seed.tenant}"`,
      );
    }
    const hash = hashSecret(seed.key);
    const prefix = displayPrefix(seed.key);
    await db
      .insertInto('api_keys')
      .values({
        id: keyId,
        tenant_id: seed.tenant,
        project_id: seed.project,
        ...entityColumns(merged(EMPTY, { name: seed.name ?? keyId })),
        allowed_models: seed.models === undefined ? null : JSON.stringify(seed.models),
        key_prefix: prefix,
        expires_at: null,
        revoked_at: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .execute();
    const holder = await db
      .selectFrom('api_key_secrets')
      .select('key_id')
      .where('hash', '=', hash)
      .executeTakeFirst();
    if (holder && holder.key_id !== keyId)
      throw new Error(`keys[${index}]: this secret already belongs to key "${holder.key_id}"`);
    if (holder) continue;
    // The config names a new secret for this key: it replaces the old ones at once.
    await db
      .updateTable('api_key_secrets')
      .set({ expires_at: now })
      .where('key_id', '=', keyId)
      .where('hash', '!=', hash)
      .where('expires_at', 'is', null)
      .execute();
    await db
      .insertInto('api_key_secrets')
      .values({ hash, key_id: keyId, prefix, created_at: now, expires_at: null })
      .onConflict((conflict) => conflict.column('hash').doNothing())
      .execute();
    await db.updateTable('api_keys').set({ key_prefix: prefix }).where('id', '=', keyId).execute();
  }
}
