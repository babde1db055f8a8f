import { scaledToDecimal } from '../core/money.js';

/** Plain-text output of the admin commands: aligned tables and key/value blocks. */

/** Renders rows as a table with a header, columns padded to their widest cell. */
export function table(columns: string[], rows: string[][]): string {
  const widths = columns.map((column, i) =>
    Math.max(column.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((column) => column.toUpperCase())), ...rows.map(line)].join('\n')}\n`;
}

/** Renders an object as `key: value` lines; nested objects and arrays as compact JSON. */
export function details(value: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(value).map((key) => key.length));
  return `${Object.entries(value)
    .map(([key, item]) => `${`${key}:`.padEnd(width + 2)}${cell(item)}`)
    .join('\n')}\n`;
}

/** One value as a table cell: `-` for null, JSON for objects. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Rate limits as `10 rpm, 5000 tpm, 4 concurrent`, or `-` when none is set. */
export function limitsText(
  limits:
    | { rpm?: number | null; tpm?: number | null; max_concurrent?: number | null }
    | null
    | undefined,
): string {
  if (!limits) return '-';
  const parts = [
    limits.rpm == null ? '' : `${limits.rpm} rpm`,
    limits.tpm == null ? '' : `${limits.tpm} tpm`,
    limits.max_concurrent == null ? '' : `${limits.max_concurrent} concurrent`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : '-';
}

/** A budget as `$25.5/month hard, alert 80%` (mode hard when not given), or `-`. */
export function budgetText(
  budget:
    | {
        amount_micros: string | number;
        period: string;
        mode?: string;
        alert_percent?: number | null;
      }
    | null
    | undefined,
): string {
  if (!budget) return '-';
  return `${usd(String(budget.amount_micros))}/${budget.period} ${budget.mode ?? 'hard'}${budget.alert_percent == null ? '' : `, alert ${budget.alert_percent}%`}`;
}

/** µUSD as `$1.5`, or `-`. */
export function usd(micros: string | null | undefined): string {
  return micros === null || micros === undefined ? '-' : `$${scaledToDecimal(BigInt(micros), 6)}`;
}
