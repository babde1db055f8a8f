import { InvalidArgumentError } from 'commander';
import { PERIOD_UNITS, type PeriodUnit } from '../billing/periods.js';

/** Option parsers shared by the billing, commitments and what-if commands. */

/** An ISO date (midnight UTC) or date-time, as epoch ms. */
export function instant(value: string): number {
  const parsed = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(parsed))
    throw new InvalidArgumentError('expected an ISO date or date-time such as 2026-11-01');
  return parsed;
}

/** An accounting period unit: month, week or day. */
export function periodUnit(value: string): PeriodUnit {
  const unit = PERIOD_UNITS.find((item) => item === value);
  if (unit === undefined) throw new InvalidArgumentError(`expected ${PERIOD_UNITS.join(', ')}`);
  return unit;
}
