import { InvalidArgumentError } from 'commander';
import { decimalToScaled, isDecimalString } from '../core/money.js';
import { budgetText } from './table.js';
import { merged } from '../core/objects.js';

/**
 * `--budget-rule` of the access commands: one budget per model pattern and/or per end user, as
 * comma-separated fields, e.g. `models=gpt-4o*+o3,usd=25,period=day,per-user,alert=80`:
 * `models` (patterns joined by `+`; every model when absent), `usd` or `micros` (the amount,
 * required), `period` (day | week | month | total; default month), `per-user`, `soft`,
 * `alert` (percent). The flag repeats; `none` removes every rule.
 */

/** The admin API's `budget_rules` for the given flags, null for `none`, undefined when absent. */
export function budgetRulesBody(specs: string[] | undefined): unknown[] | null | undefined {
  if (specs === undefined) return undefined;
  if (specs.length === 1 && specs[0] === 'none') return null;
  return specs.map(parseRule);
}

function parseRule(spec: string): Record<string, unknown> {
  const rule: Record<string, unknown> = { period: 'month', mode: 'hard', per_user: false };
  let amount: string | undefined;
  for (const field of spec.split(',').map((part) => part.trim())) {
    if (field === '') continue;
    const [name, value] = field.includes('=')
      ? [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)]
      : [field, undefined];
    if (name === 'per-user' && value === undefined) rule['per_user'] = true;
    else if (name === 'soft' && value === undefined) rule['mode'] = 'soft';
    else if (name === 'models' && value)
      rule['models'] = value.split('+').filter((pattern) => pattern !== '');
    else if (name === 'period' && value && ['day', 'week', 'month', 'total'].includes(value))
      rule['period'] = value;
    else if (name === 'alert' && value && /^\d+$/.test(value))
      rule['alert_percent'] = Number(value);
    else if (name === 'micros' && value && /^\d+$/.test(value)) amount = value;
    else if (name === 'usd' && value && isDecimalString(value))
      amount = decimalToScaled(value, 6).toString();
    else
      throw new InvalidArgumentError(
        `--budget-rule: cannot read "${field}" in "${spec}" (fields: models=a+b, usd=N or micros=N, period=day|week|month|total, per-user, soft, alert=N)`,
      );
  }
  if (amount === undefined)
    throw new InvalidArgumentError(`--budget-rule "${spec}" needs usd=N or micros=N`);
  return merged(rule, { amount_micros: amount });
}

/** Rules as `gpt-4o*: $25/day hard; per user: $1/month hard`, or `-`. */
export function budgetRulesText(rules: unknown): string {
  if (!Array.isArray(rules) || rules.length === 0) return '-';
  return rules
    .map((rule) => {
      const scope = [
        rule.models ? (rule.models as string[]).join('+') : '',
        rule.per_user ? 'per user' : '',
      ]
        .filter(Boolean)
        .join(', ');
      return `${scope || 'all models'}: ${budgetText(rule)}`;
    })
    .join('; ');
}
