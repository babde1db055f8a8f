import {
  type AccessDb,
  type AccessLedger,
  type AccessRepository,
  type AuditEntry,
  type AuditFilter,
  accessDb,
  createAccessLedger,
  createAccessRepository,
} from '../store/index.js';
import { randomId } from '../core/ids.js';
import type { AccessAdminDeps, AdminContext } from './admin-context.js';
import type { Actor } from './admin-inputs.js';
import { createKeyAdmin, type KeyAdmin } from './admin-keys.js';
import { createProjectAdmin, type ProjectAdmin } from './admin-projects.js';
import { createStatusAdmin, type StatusAdmin } from './admin-status.js';
import { createTenantAdmin, type TenantAdmin } from './admin-tenants.js';

export type { LevelStatus } from './types.js';
import { merged } from '../core/objects.js';

/** Management of tenants, projects and keys; every change is audited. */
export interface AccessAdmin extends TenantAdmin, ProjectAdmin, KeyAdmin, StatusAdmin {
  listAudit(filter?: AuditFilter): Promise<AuditEntry[]>;
}

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

  const context: AdminContext = { deps, repository, change };
  const audit: Pick<AccessAdmin, 'listAudit'> = {
    listAudit: (filter) => ledger.listAudit(filter),
  };
  return merged(
    merged(createTenantAdmin(context), createProjectAdmin(context)),
    merged(createKeyAdmin(context), createStatusAdmin(context)),
    audit,
  );
}
