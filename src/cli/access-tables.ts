import type { AdminJson } from './admin-client.js';
import { budgetRulesText } from './budget-rules.js';
import { budgetText, cell, limitsText, table, usd } from './table.js';
import { merged } from '../core/objects.js';

/** How `switchyard tenants|projects|keys` print what the admin API answers. */

/** One tenant, project or key as `key: value` lines: limits and budgets in words, no secret. */
export function summary(entity: AdminJson): Record<string, unknown> {
  const { levels: _levels, secret: _secret, limits, budget, budget_rules, ...rest } = entity;
  return merged(rest, {
    limits: limitsText(limits),
    budget: budgetText(budget),
    budget_rules: budgetRulesText(budget_rules),
  });
}

export function listTable(kind: 'tenants' | 'projects' | 'keys', items: AdminJson[]): string {
  if (kind === 'keys') {
    return table(
      [
        'id',
        'project',
        'name',
        'prefix',
        'status',
        'models',
        'expires',
        'limits',
        'budget',
        'cost',
      ],
      items.map((key) => [
        key.id,
        key.project_id,
        key.name,
        key.prefix,
        key.revoked_at ? 'revoked' : key.status,
        key.allowed_models ? key.allowed_models.join(',') : 'all',
        cell(key.expires_at),
        limitsText(key.limits),
        budgetText(key.budget),
        key.include_cost === true ? 'in body' : '',
      ]),
    );
  }
  const columns =
    kind === 'projects'
      ? ['id', 'tenant', 'name', 'status', 'limits', 'budget']
      : ['id', 'name', 'status', 'limits', 'budget'];
  return table(
    columns,
    items.map((item) => [
      item.id,
      ...(kind === 'projects' ? [item.tenant_id] : []),
      item.name,
      item.status,
      limitsText(item.limits),
      budgetText(item.budget),
    ]),
  );
}

export function levelsTable(levels: AdminJson[] | undefined): string {
  if (!levels) return '';
  return table(
    ['level', 'id', 'limits', 'budget', 'spent', 'reserved', 'remaining'],
    levels.map((level) => [
      level.kind,
      level.id,
      limitsText(level.limits),
      budgetText(level.budget),
      usd(level.spend?.spent_micros),
      usd(level.spend?.reserved_micros),
      usd(level.spend?.remaining_micros),
    ]),
  );
}
