/**
 * Accounting periods in UTC. A period id is `YYYY-MM` for monthly periods (the default) and
 * `YYYY-MM-DD` for daily ones; bounds are `[startsAt, endsAt)` in epoch ms.
 */

/** Length of an accounting period. Default `month`. */
export type PeriodUnit = 'month' | 'day';

/** One period's id and bounds. */
export interface PeriodBounds {
  id: string;
  startsAt: number;
  /** Exclusive. */
  endsAt: number;
}

const MONTH_ID = /^(\d{4})-(\d{2})$/;
const DAY_ID = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The period containing `at` (epoch ms).
 * @example periodOf(Date.parse('2026-11-30T23:59:59.999Z')).id === '2026-11'
 */
export function periodOf(at: number, unit: PeriodUnit = 'month'): PeriodBounds {
  const date = new Date(at);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  if (unit === 'month') {
    return { id: `${pad(year, 4)}-${pad(month + 1, 2)}`, startsAt: Date.UTC(year, month, 1), endsAt: Date.UTC(year, month + 1, 1) };
  }
  const day = date.getUTCDate();
  return {
    id: `${pad(year, 4)}-${pad(month + 1, 2)}-${pad(day, 2)}`,
    startsAt: Date.UTC(year, month, day),
    endsAt: Date.UTC(year, month, day + 1),
  };
}

/** Parses a period id of `unit`; throws a TypeError naming the expected shape. */
export function parsePeriod(id: string, unit: PeriodUnit = 'month'): PeriodBounds {
  const match = (unit === 'month' ? MONTH_ID : DAY_ID).exec(id);
  if (match) {
    const year = Number(match[1]);
    const month = Number(match[2]) - 1;
    const day = unit === 'day' ? Number(match[3]) : 1;
    const startsAt = Date.UTC(year, month, day);
    const bounds = periodOf(startsAt, unit);
    // Rejects 2026-13 and 2026-02-30, which Date.UTC would roll over.
    if (bounds.id === id) return bounds;
  }
  throw new TypeError(`not a period: "${id}" (expected ${unit === 'month' ? 'YYYY-MM' : 'YYYY-MM-DD'})`);
}

/** The period right after `period`. */
export function nextPeriod(period: PeriodBounds, unit: PeriodUnit = 'month'): PeriodBounds {
  return periodOf(period.endsAt, unit);
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
