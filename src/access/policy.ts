import type { BudgetPeriod, Policy } from '../store/index.js';

/**
 * Levels, periods and model patterns. A request must pass every level (tenant, project, key)
 * that has a limit or a budget set.
 */

export type { Budget, BudgetPeriod, BudgetRule, Limits, Policy } from '../store/index.js';

/** The kinds of things that carry a policy. */
export type LevelKind = 'tenant' | 'project' | 'key';

/** One level a request passes through: which entity, and its policy. */
export interface Level {
  kind: LevelKind;
  id: string;
  policy: Policy;
}

/** Largest budget amount: budgets are compared as doubles in Redis Lua, exact below 2^53 µUSD. */
export const MAX_BUDGET_MICROS = 2n ** 53n - 1n;

/** The period containing `now`: its start and end (epoch ms, UTC); `total` is [0, +∞). */
export function periodOf(period: BudgetPeriod, now: number): { start: number; end: number } {
  if (period === 'total') return { start: 0, end: Number.POSITIVE_INFINITY };
  const date = new Date(now);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  const day = date.getUTCDate();
  if (period === 'day')
    return { start: Date.UTC(year, month, day), end: Date.UTC(year, month, day + 1) };
  if (period === 'week') {
    // ISO weeks start on Monday; getUTCDay() is 0 for Sunday.
    const sinceMonday = (date.getUTCDay() + 6) % 7;
    return {
      start: Date.UTC(year, month, day - sinceMonday),
      end: Date.UTC(year, month, day - sinceMonday + 7),
    };
  }
  return { start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) };
}

/** The spend bucket of a level's budget: `key:<id>:month`. */
export function budgetScope(level: Pick<Level, 'kind' | 'id'>, period: BudgetPeriod): string {
  return `${level.kind}:${level.id}:${period}`;
}

/** The rate-limit and concurrency bucket of a level: `key:<id>`. */
export function limitScope(level: Pick<Level, 'kind' | 'id'>): string {
  return `${level.kind}:${level.id}`;
}

/**
 * Matches a model name against allow-list patterns: `*` matches any run of characters
 * (`gpt-4o*`, `*-mini`, `*`); anything else must be equal. Undefined or null patterns allow all.
 */
export function modelAllowed(
  patterns: readonly string[] | null | undefined,
  model: string,
): boolean {
  if (!patterns) return true;
  return patterns.some((pattern) => matchPattern(pattern, model));
}

function matchPattern(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const parts = pattern.split('*');
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (
    value.length < first.length + last.length ||
    !value.startsWith(first) ||
    !value.endsWith(last)
  )
    return false;
  let position = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i]!;
    const index = value.indexOf(part, position);
    if (index === -1 || index + part.length > end) return false;
    position = index + part.length;
  }
  return true;
}
