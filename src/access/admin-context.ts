import type { Clock } from '../core/clock.js';
import type { AccessRepository, AuditEntry, Database } from '../store/index.js';
import type { Actor } from './admin-inputs.js';
import type { BudgetCounters } from './budgets.js';

/** What the admin resources (tenants, projects, keys, status) are built on. */

/** What {@link createAccessAdmin} needs. */
export interface AccessAdminDeps {
  database: Database;
  budgets: BudgetCounters;
  clock: Clock;
  /** Called after every committed change (clears key caches on every replica). */
  changed: () => Promise<void>;
}

/** What the methods of every admin resource share; made once by {@link createAccessAdmin}. */
export interface AdminContext {
  deps: AccessAdminDeps;
  /** The repository outside any transaction, for reads. */
  repository: AccessRepository;
  /** Runs `work` in a transaction with an audit entry, then announces the change. */
  change: <T>(
    work: (
      repo: AccessRepository,
      audit: (entry: Omit<AuditEntry, 'id' | 'at' | 'actor' | 'requestId'>) => Promise<void>,
    ) => Promise<T>,
    actor: Actor,
  ) => Promise<T>;
}
