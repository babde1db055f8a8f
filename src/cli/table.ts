/** Plain-text output of the admin commands: aligned tables and key/value blocks. */

/** Renders rows as a table with a header, columns padded to their widest cell. */
export function table(columns: string[], rows: string[][]): string {
  const widths = columns.map((column, i) => Math.max(column.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map((column) => column.toUpperCase())), ...rows.map(line)].join('\n') + '\n';
}

/** Renders an object as `key: value` lines; nested objects and arrays as compact JSON. */
export function details(value: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(value).map((key) => key.length));
  return (
    Object.entries(value)
      .map(([key, item]) => `${`${key}:`.padEnd(width + 2)}${cell(item)}`)
      .join('\n') + '\n'
  );
}

/** One value as a table cell: `-` for null, JSON for objects. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
