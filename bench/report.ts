/** The result table bench/run.ts prints (Markdown, so it can be pasted into docs/benchmarks.md). */

/** One line of the table. `pass` null = informational (no target). */
export interface Row {
  measure: string;
  direct: string;
  /** The bare reference proxy (bench/reference-proxy.ts), where measured. */
  reference?: string;
  switchyard: string;
  result: string;
  target: string;
  pass: boolean | null;
}

/** Formats a number with fixed decimals; `n/a` for NaN/undefined. */
export function fixed(value: number | undefined, digits = 2): string {
  return value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
}

/** Bytes → MB with one decimal. */
export function mb(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

/** Signed difference with unit. */
export function signed(value: number, digits = 2, unit = ''): string {
  if (Number.isNaN(value)) return 'n/a';
  return `${value >= 0 ? '+' : ''}${value.toFixed(digits)}${unit}`;
}

/** Renders rows as an aligned Markdown table (a "Bare proxy" column when any row has one); misses are marked `✗ MISS`. */
export function renderTable(rows: Row[]): string {
  const withReference = rows.some((row) => row.reference !== undefined);
  const header = [
    'Measure',
    'Direct',
    ...(withReference ? ['Bare proxy'] : []),
    'Switchyard',
    'Result',
    'Target',
    'Status',
  ];
  const body = rows.map((row) => [
    row.measure,
    row.direct,
    ...(withReference ? [row.reference ?? ''] : []),
    row.switchyard,
    row.result,
    row.target,
    row.pass === null ? '' : row.pass ? '✓ ok' : '✗ MISS',
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...body.map((cells) => cells[column]!.length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...body.map(line),
  ].join('\n');
}
