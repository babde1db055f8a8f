import { InvalidArgumentError } from 'commander';
import { decimalToScaled, isDecimalString } from '../core/money.js';
import { CLEAR } from './access-flags.js';
import { budgetRulesBody } from './budget-rules.js';

/** The admin API request bodies and query strings the access commands build from their flags. */

/** The policy flags of `create` and `update`, as commander parses them. */
export interface PolicyFlags {
  name?: string;
  rpm?: number;
  tpm?: number;
  maxConcurrent?: number;
  budget?: string;
  budgetUsd?: string;
  period?: string;
  soft?: boolean;
  alert?: number;
  metadata?: string[];
  tag?: string[];
  budgetRule?: string[];
}

/** The POST/PATCH body of a tenant or project from its flags. */
export function entityBody(
  options: PolicyFlags & { disable?: boolean; enable?: boolean },
  creating: boolean,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (options.name !== undefined) body['name'] = options.name;
  if (options.disable) body['status'] = 'disabled';
  if (options.enable) body['status'] = 'active';
  const limits: Record<string, number | null> = {};
  const set = (field: string, value: number | undefined) => {
    if (value !== undefined) limits[field] = value === CLEAR ? null : value;
  };
  set('rpm', options.rpm);
  set('tpm', options.tpm);
  set('max_concurrent', options.maxConcurrent);
  if (Object.keys(limits).length > 0) body['limits'] = limits;
  const amount = budgetMicros(options);
  if (amount === null) body['budget'] = null;
  else if (amount !== undefined) {
    body['budget'] = {
      amount_micros: amount,
      period: options.period ?? 'month',
      mode: options.soft ? 'soft' : 'hard',
      ...(options.alert === undefined ? {} : { alert_percent: options.alert }),
    };
  } else if (options.period !== undefined || options.soft || options.alert !== undefined) {
    throw new InvalidArgumentError('--period, --soft and --alert need --budget or --budget-usd');
  }
  const rules = budgetRulesBody(options.budgetRule);
  if (rules !== undefined) body['budget_rules'] = rules;
  if (options.metadata) body['metadata'] = Object.fromEntries(options.metadata.map(pair));
  if (options.tag) body['tags'] = options.tag;
  if (creating && body['status'] !== undefined) delete body['status'];
  return body;
}

/** The POST/PATCH body of a key: the entity body plus the key's own fields. */
export function keyBody(
  options: PolicyFlags & { models?: string; expires?: string; includeCost?: boolean },
): Record<string, unknown> {
  const body = entityBody(options, false);
  if (options.models !== undefined)
    body['allowed_models'] =
      options.models === 'all'
        ? null
        : options.models
            .split(',')
            .map((item) => item.trim())
            .filter(Boolean);
  if (options.expires !== undefined)
    body['expires_at'] = options.expires === 'never' ? null : options.expires;
  if (options.includeCost !== undefined) body['include_cost'] = options.includeCost;
  return body;
}

function budgetMicros(options: PolicyFlags): string | null | undefined {
  if (options.budget === 'none') return null;
  if (options.budget !== undefined) {
    if (!/^\d+$/.test(options.budget))
      throw new InvalidArgumentError('--budget is a whole number of µUSD (or "none")');
    return options.budget;
  }
  if (options.budgetUsd !== undefined) {
    if (!isDecimalString(options.budgetUsd))
      throw new InvalidArgumentError('--budget-usd is a decimal amount such as 25.50');
    return decimalToScaled(options.budgetUsd, 6).toString();
  }
  return undefined;
}

/** `?name=value&...` of the given parameters (none: the empty string). */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

function pair(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`--metadata expects key=value, got "${text}"`);
  return [text.slice(0, at), text.slice(at + 1)];
}
