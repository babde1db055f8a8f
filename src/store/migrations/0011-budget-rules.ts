import type { Migration } from './types.js';

/**
 * `budget_rules` on tenants, projects and keys: JSON array of finer-grained budgets (per model
 * pattern, per end user) beside the level's own budget (access/buckets.ts). NULL = none.
 */
export const budgetRules: Migration = {
  name: '0011-budget-rules',
  async up(db) {
    for (const table of ['tenants', 'projects', 'api_keys'])
      await db.schema.alterTable(table).addColumn('budget_rules', 'text').execute();
  },
};
