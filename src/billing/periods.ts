/**
 * Accounting periods in UTC (config `billing.period`). A period id is `YYYY-MM` for monthly
 * periods (the default), `YYYY-Www` for ISO 8601 weeks (Monday to Monday; the year is the ISO
 * week-year, so 2024-12-30 is in `2025-W01`) and `YYYY-MM-DD` for days; bounds are
 * `[startsAt, endsAt)` in epoch ms.
 */

/** Length of an accounting period. Default `month`. */
export type PeriodUnit = 'month' | 'week' | 'day';

/** The period units, for validation and help texts. */
export const PERIOD_UNITS: readonly PeriodUnit[] = ['month', 'week', 'day'];

/** The shape of a period id of each unit, for error messages. */
export const PERIOD_ID_SHAPES: Readonly<Record<PeriodUnit, string>> = {
  month: 'YYYY-MM',
  week: 'YYYY-Www',
  day: 'YYYY-MM-DD',
};

/** One period's id and bounds. */
export interface PeriodBounds {
  id: string;
  startsAt: number;
  /** Exclusive. */
  endsAt: number;
}

const MONTH_ID = /^(\d{4})-(\d{2})$/;
const WEEK_ID = /^(\d{4})-W(\d{2})$/;
const DAY_ID = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/**
 * The period containing `at` (epoch ms).
 * @example periodOf(Date.parse('2026-11-30T23:59:59.999Z')).id === '2026-11'
 */
export function periodOf(at: number, unit: PeriodUnit = 'month'): PeriodBounds {
  const date = new Date(at);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  if (unit === 'month') {
    return {
      id: `${pad(year, 4)}-${pad(month + 1, 2)}`,
      startsAt: Date.UTC(year, month, 1),
      endsAt: Date.UTC(year, month + 1, 1),
    };
  }
  if (unit === 'week') {
    const startsAt = mondayOf(Date.UTC(year, month, date.getUTCDate()));
    // ISO 8601: a week belongs to the year of its Thursday; week 1 holds January 4.
    const weekYear = new Date(startsAt + 3 * DAY_MS).getUTCFullYear();
    const week = Math.round((startsAt - firstWeekOf(weekYear)) / (7 * DAY_MS)) + 1;
    return { id: `${pad(weekYear, 4)}-W${pad(week, 2)}`, startsAt, endsAt: startsAt + 7 * DAY_MS };
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
  if (unit === 'week') {
    const match = WEEK_ID.exec(id);
    if (match) {
      const bounds = periodOf(
        firstWeekOf(Number(match[1])) + (Number(match[2]) - 1) * 7 * DAY_MS,
        'week',
      );
      // Rejects W00, and W53 in a year of 52 weeks.
      if (bounds.id === id) return bounds;
    }
    throw new TypeError(
      `not a period: "${id}" (expected ${PERIOD_ID_SHAPES.week}, an ISO week such as 2026-W48)`,
    );
  }
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
  throw new TypeError(`not a period: "${id}" (expected ${PERIOD_ID_SHAPES[unit]})`);
}

/** The period right after `period`. */
export function nextPeriod(period: PeriodBounds, unit: PeriodUnit = 'month'): PeriodBounds {
  return periodOf(period.endsAt, unit);
}

/** Midnight UTC of the Monday on or before `midnight` (a UTC midnight). */
function mondayOf(midnight: number): number {
  return midnight - ((new Date(midnight).getUTCDay() + 6) % 7) * DAY_MS;
}

/** Start of ISO week 1 of `year`: the Monday of the week holding January 4. */
function firstWeekOf(year: number): number {
  return mondayOf(Date.UTC(year, 0, 4));
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
