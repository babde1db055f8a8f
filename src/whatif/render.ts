import { scaledToDecimal } from '../core/money.js';
import { csvField } from '../core/csv.js';
import type { ScenarioFigures, WhatIfPeriod, WhatIfReport } from './replay.js';

/**
 * A what-if as rows of differences, JSON and CSV. Money is a decimal string of USD with six
 * places (exact µUSD), as in every billing report.
 */

/** One line of the difference table. */
export interface WhatIfLine {
  period: string;
  /** `requests`, `served <deployment>`, `revenue`, `cost`, `accrual <partner>`, `share`, `margin`. */
  metric: string;
  baseline: string;
  alternative: string;
  difference: string;
}

/** The report as lines, period after period, then `total`. */
export function whatIfLines(report: WhatIfReport): WhatIfLine[] {
  return [...report.periods, report.total].flatMap(periodLines);
}

function periodLines(period: WhatIfPeriod): WhatIfLine[] {
  const { baseline, alternative } = period;
  const lines: WhatIfLine[] = [
    countLine(period.period, 'requests', period.requests, period.requests),
    countLine(period.period, 'moved', 0, period.moved),
  ];
  for (const key of keys(baseline.served, alternative.served))
    lines.push(
      countLine(
        period.period,
        `served ${key}`,
        baseline.served[key] ?? 0,
        alternative.served[key] ?? 0,
      ),
    );
  lines.push(moneyLine(period.period, 'revenue', baseline.revenue, alternative.revenue));
  lines.push(moneyLine(period.period, 'cost', baseline.cost, alternative.cost));
  for (const partner of keys(baseline.accruals, alternative.accruals))
    lines.push(
      moneyLine(
        period.period,
        `accrual ${partner}`,
        baseline.accruals[partner] ?? 0n,
        alternative.accruals[partner] ?? 0n,
      ),
    );
  lines.push(moneyLine(period.period, 'share', baseline.share, alternative.share));
  lines.push(moneyLine(period.period, 'margin', baseline.margin, alternative.margin));
  return lines;
}

/** CSV with a header: `period,metric,baseline,alternative,difference`. */
export function whatIfCsv(report: WhatIfReport): string {
  const header = 'period,metric,baseline,alternative,difference\n';
  return (
    header +
    whatIfLines(report)
      .map((line) =>
        [line.period, line.metric, line.baseline, line.alternative, line.difference]
          .map(csvField)
          .join(','),
      )
      .join('\n') +
    '\n'
  );
}

/** The report as JSON-ready data (money as USD decimal strings). */
export function whatIfJson(report: WhatIfReport): Record<string, unknown> {
  return {
    object: 'whatif',
    from: new Date(report.from).toISOString(),
    to: new Date(report.to).toISOString(),
    period_unit: report.unit,
    currency: 'USD',
    periods: report.periods.map(periodJson),
    total: periodJson(report.total),
  };
}

function periodJson(period: WhatIfPeriod): Record<string, unknown> {
  return {
    period: period.period,
    starts_at: new Date(period.startsAt).toISOString(),
    ends_at: new Date(period.endsAt).toISOString(),
    requests: period.requests,
    moved: period.moved,
    baseline: figuresJson(period.baseline),
    alternative: figuresJson(period.alternative),
    difference: {
      revenue: usd(period.alternative.revenue - period.baseline.revenue),
      cost: usd(period.alternative.cost - period.baseline.cost),
      share: usd(period.alternative.share - period.baseline.share),
      margin: usd(period.alternative.margin - period.baseline.margin),
    },
  };
}

function figuresJson(figures: ScenarioFigures): Record<string, unknown> {
  return {
    served: sorted(figures.served),
    revenue: usd(figures.revenue),
    cost: usd(figures.cost),
    accruals: Object.fromEntries(
      Object.keys(figures.accruals)
        .sort()
        .map((partner) => [partner, usd(figures.accruals[partner]!)]),
    ),
    share: usd(figures.share),
    margin: usd(figures.margin),
  };
}

function sorted(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.keys(counts)
      .sort()
      .map((key) => [key, counts[key]!]),
  );
}

function keys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

function countLine(period: string, metric: string, baseline: number, alternative: number) {
  const difference = alternative - baseline;
  return {
    period,
    metric,
    baseline: String(baseline),
    alternative: String(alternative),
    difference: difference > 0 ? `+${difference}` : String(difference),
  };
}

function moneyLine(period: string, metric: string, baseline: bigint, alternative: bigint) {
  const difference = alternative - baseline;
  return {
    period,
    metric,
    baseline: usd(baseline),
    alternative: usd(alternative),
    difference: difference > 0n ? `+${usd(difference)}` : usd(difference),
  };
}

function usd(micros: bigint): string {
  return scaledToDecimal(micros, 6);
}
