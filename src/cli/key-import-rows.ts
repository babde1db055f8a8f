import { decimalToScaled, isDecimalString } from '../core/money.js';
import { parseKeyCreate } from '../surfaces/admin/parse.js';
import { CsvError, parseCsv } from './csv.js';

/**
 * The rows of a `switchyard keys import` file: the format (CSV or JSON Lines), CSV columns named
 * after the `keys create` flags, and each row checked into a `POST /admin/v1/keys` body against
 * the admin API's own schema, with problems named by line and column. No I/O: key-import.ts
 * reads the file and creates the keys.
 */

/** Input and secrets formats. */
export type ImportFormat = 'csv' | 'jsonl';

/** A row that passed validation: its line and the `POST /admin/v1/keys` body. */
export interface ImportRow {
  line: number;
  body: Record<string, unknown>;
}

/** A row that did not: its line and what is wrong. */
export interface RowProblem {
  line: number;
  message: string;
}

/** CSV columns, named after the `keys create` flags (`-` and `_` alike, any case). */
export const CSV_COLUMNS = [
  'project',
  'name',
  'models',
  'rpm',
  'tpm',
  'max_concurrent',
  'budget',
  'budget_usd',
  'period',
  'soft',
  'alert',
  'metadata',
  'tags',
  'expires',
] as const;
type Column = (typeof CSV_COLUMNS)[number];
const ALIASES: Record<string, Column> = {
  project_id: 'project',
  tag: 'tags',
  expires_at: 'expires',
};

/** API field paths → CSV columns, so a schema message names the column the user wrote. */
const PATH_COLUMNS: [string, Column][] = [
  ['project_id', 'project'],
  ['allowed_models', 'models'],
  ['limits.max_concurrent', 'max_concurrent'],
  ['limits.rpm', 'rpm'],
  ['limits.tpm', 'tpm'],
  ['budget.amount_micros', 'budget'],
  ['budget.alert_percent', 'alert'],
  ['budget.period', 'period'],
  ['expires_at', 'expires'],
];

/** The format of `file`: `--format`, else its extension. */
export function detectFormat(file: string, format: string | undefined): ImportFormat {
  if (format !== undefined) {
    if (format === 'csv' || format === 'jsonl') return format;
    if (format === 'ndjson') return 'jsonl';
    throw new ImportError(`--format is csv or jsonl, not "${format}"`);
  }
  if (file === '-') throw new ImportError('reading stdin needs --format csv or --format jsonl');
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  throw new ImportError(
    `cannot tell the format of "${file}" from its extension (.csv, .jsonl, .ndjson): pass --format csv or --format jsonl`,
  );
}

/** A problem that stops the import before anything is created. */
export class ImportError extends Error {
  override name = 'ImportError';
}

/**
 * Reads the rows of an import file and checks each one. Rows are checked independently, so
 * every bad row is reported; a bad CSV header or broken CSV quoting stops at once (line numbers
 * after it could not be trusted).
 */
export function parseImport(
  text: string,
  format: ImportFormat,
): { rows: ImportRow[]; problems: RowProblem[] } {
  return format === 'csv' ? parseCsvImport(text) : parseJsonlImport(text);
}

function parseJsonlImport(text: string): { rows: ImportRow[]; problems: RowProblem[] } {
  const rows: ImportRow[] = [];
  const problems: RowProblem[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((content, index) => {
    const line = index + 1;
    if (content.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (error) {
      problems.push({ line, message: `not JSON: ${(error as Error).message}` });
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push({
        line,
        message: 'expected a JSON object with the fields of POST /admin/v1/keys',
      });
      return;
    }
    const problem = schemaProblem(value);
    if (problem) problems.push({ line, message: problem });
    else rows.push({ line, body: value as Record<string, unknown> });
  });
  return { rows, problems };
}

function parseCsvImport(text: string): { rows: ImportRow[]; problems: RowProblem[] } {
  let records: ReturnType<typeof parseCsv>;
  try {
    records = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvError)
      return {
        rows: [],
        problems: [{ line: error.line, message: error.message.replace(/^line \d+: /, '') }],
      };
    throw error;
  }
  const [header, ...data] = records;
  if (!header) return { rows: [], problems: [] };
  const columns: Column[] = [];
  const headerProblems: string[] = [];
  for (const raw of header.fields) {
    const normalized = raw.trim().toLowerCase().replace(/-/g, '_');
    const column =
      ALIASES[normalized] ?? (CSV_COLUMNS as readonly string[]).find((name) => name === normalized);
    if (column === undefined) headerProblems.push(`unknown column "${raw}"`);
    else if (columns.includes(column as Column))
      headerProblems.push(`column "${column}" appears twice`);
    columns.push(column as Column);
  }
  if (!columns.includes('project')) headerProblems.push('the "project" column is required');
  if (headerProblems.length > 0) {
    return {
      rows: [],
      problems: [
        {
          line: header.line,
          message: `header: ${headerProblems.join('; ')} (columns: ${CSV_COLUMNS.join(', ')})`,
        },
      ],
    };
  }

  const rows: ImportRow[] = [];
  const problems: RowProblem[] = [];
  for (const record of data) {
    if (record.fields.length !== columns.length) {
      problems.push({
        line: record.line,
        message: `has ${record.fields.length} field(s), the header has ${columns.length}`,
      });
      continue;
    }
    const cells = new Map<Column, string>();
    columns.forEach((column, index) => {
      const value = record.fields[index]!.trim();
      if (value !== '') cells.set(column, value);
    });
    const { body, problems: rowProblems } = csvBody(cells);
    const schema = rowProblems.length === 0 ? schemaProblem(body) : undefined;
    if (schema) rowProblems.push(columnNames(schema));
    if (rowProblems.length > 0)
      problems.push({ line: record.line, message: rowProblems.join('; ') });
    else rows.push({ line: record.line, body });
  }
  return { rows, problems };
}

/** One CSV row → a `POST /admin/v1/keys` body, the way `keys create` turns its flags into one. */
function csvBody(cells: Map<Column, string>): {
  body: Record<string, unknown>;
  problems: string[];
} {
  const problems: string[] = [];
  const body: Record<string, unknown> = {};
  const get = (column: Column) => cells.get(column);

  const project = get('project');
  if (project === undefined) problems.push('project is required');
  else body['project_id'] = project;
  if (get('name') !== undefined) body['name'] = get('name');

  const models = get('models');
  if (models !== undefined && models.toLowerCase() !== 'all') body['allowed_models'] = list(models);

  const limits: Record<string, number> = {};
  for (const column of ['rpm', 'tpm', 'max_concurrent'] as const) {
    const value = get(column);
    if (value === undefined) continue;
    if (/^\d+$/.test(value) && Number(value) > 0) limits[column] = Number(value);
    else problems.push(`${column}: expected a positive integer, got "${value}"`);
  }
  if (Object.keys(limits).length > 0) body['limits'] = limits;

  const budget = get('budget');
  const budgetUsd = get('budget_usd');
  let amount: string | undefined;
  if (budget !== undefined && budgetUsd !== undefined)
    problems.push('set budget (µUSD) or budget_usd, not both');
  else if (budget !== undefined) {
    if (/^\d+$/.test(budget)) amount = budget;
    else problems.push(`budget: expected a whole number of µUSD, got "${budget}"`);
  } else if (budgetUsd !== undefined) {
    const plain = budgetUsd.replace(/^\$/, '');
    if (!isDecimalString(plain) || plain.startsWith('-') || plain.startsWith('+'))
      problems.push(`budget_usd: expected an amount such as 25.50, got "${budgetUsd}"`);
    else {
      try {
        amount = decimalToScaled(plain, 6).toString();
      } catch (error) {
        problems.push(`budget_usd: ${(error as Error).message}`);
      }
    }
  }
  const period = get('period');
  const soft = get('soft');
  const alert = get('alert');
  let softMode = false;
  if (soft !== undefined) {
    const parsed = flag(soft);
    if (parsed === undefined) problems.push(`soft: expected true or false, got "${soft}"`);
    else softMode = parsed;
  }
  if (period !== undefined && !['day', 'week', 'month', 'total'].includes(period))
    problems.push(`period: expected day, week, month or total, got "${period}"`);
  if (alert !== undefined && !/^\d+$/.test(alert))
    problems.push(`alert: expected a percentage from 1 to 100, got "${alert}"`);
  if (amount !== undefined) {
    body['budget'] = {
      amount_micros: amount,
      period: period ?? 'month',
      mode: softMode ? 'soft' : 'hard',
      ...(alert === undefined ? {} : { alert_percent: Number(alert) }),
    };
  } else if (
    budget === undefined &&
    budgetUsd === undefined &&
    (period !== undefined || softMode || alert !== undefined)
  ) {
    problems.push('period, soft and alert need budget or budget_usd');
  }

  const metadata = get('metadata');
  if (metadata !== undefined) {
    const entries: [string, string][] = [];
    for (const item of metadata.split(';')) {
      if (item.trim() === '') continue;
      const at = item.indexOf('=');
      if (at <= 0 || item.slice(0, at).trim() === '')
        problems.push(`metadata: expected key=value;key=value, got "${item}"`);
      else entries.push([item.slice(0, at).trim(), item.slice(at + 1).trim()]);
    }
    body['metadata'] = Object.fromEntries(entries);
  }
  const tags = get('tags');
  if (tags !== undefined) body['tags'] = list(tags);

  const expires = get('expires');
  if (expires !== undefined && expires.toLowerCase() !== 'never') {
    if (Number.isNaN(Date.parse(expires)))
      problems.push(
        `expires: expected an ISO date-time such as 2027-01-01T00:00:00Z, got "${expires}"`,
      );
    else body['expires_at'] = expires;
  }
  return { body, problems };
}

/** Items separated by commas or semicolons. */
function list(text: string): string[] {
  return text
    .split(/[,;]/)
    .map((item) => item.trim())
    .filter(Boolean);
}

function flag(text: string): boolean | undefined {
  const lower = text.toLowerCase();
  if (['true', 'yes', 'y', '1', 'soft'].includes(lower)) return true;
  if (['false', 'no', 'n', '0', 'hard'].includes(lower)) return false;
  return undefined;
}

/** The admin API's own check of a create body; its message, or undefined when the body is good. */
function schemaProblem(body: unknown): string | undefined {
  try {
    parseKeyCreate(body);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function columnNames(message: string): string {
  for (const [path, column] of PATH_COLUMNS) {
    if (message.startsWith(`${path}:`) || message.startsWith(`${path}.`))
      return `${column}${message.slice(path.length).replace(/^\.\d+/, '')}`;
  }
  return message;
}
