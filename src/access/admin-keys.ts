import type { KeyRecord, Page } from '../store/index.js';
import type { AdminContext } from './admin-context.js';
import type { Actor, KeyInput, KeyPatch } from './admin-inputs.js';
import { keyJson } from './admin-json.js';
import { applied, blank, found, newId } from './admin-records.js';
import { invalidRequest } from '../errors/index.js';
import { newSecret } from './secrets.js';
import { merged } from '../core/objects.js';

/** Virtual keys: create, list, read, change, rotate, revoke. */
export interface KeyAdmin {
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
}

/** The key methods of the admin service. */
export function createKeyAdmin({ deps, repository, change }: AdminContext): KeyAdmin {
  return {
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
  };
}
