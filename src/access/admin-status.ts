import type { EntityRecord } from '../store/index.js';
import type { AdminContext } from './admin-context.js';
import { found } from './admin-records.js';
import { budgetScope, type Level, periodOf } from './policy.js';
import type { LevelStatus } from './types.js';

/** The limits and spend in force at an entity. */
export interface StatusAdmin {
  /** Limits, budget and current-period spend of each level above and including the entity. */
  status(kind: Level['kind'], id: string): Promise<LevelStatus[]>;
}

/** The status methods of the admin service. */
export function createStatusAdmin({ deps, repository }: AdminContext): StatusAdmin {
  return {
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
  };
}
