import { closeSync, existsSync, fchmodSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { decimalToScaled, isDecimalString, scaledToDecimal } from '../core/money.js';
import { parseKeyCreate } from '../surfaces/admin/parse.js';
import { adminRequest, adminTarget } from './admin-client.js';
import { CsvError, csvLine, parseCsv } from './csv.js';
import { createProgress } from './progress.js';
import { table } from './table.js';

/**
 * `switchyard keys import <file>`: creates many keys from a CSV or JSON Lines file over the admin
 * API. Every row is checked first (locally, against the same schema as `POST /admin/v1/keys`);
 * then keys are created a few at a time with a progress bar, their secrets written once (to
 * `--secrets-out`, mode 0600, or stdout), and a summary says what was created and what failed.
 * Loaded only when the command runs (it pulls in the admin API's request schema).
 */

/** Input and secrets formats. */
export type ImportFormat = 'csv' | 'jsonl';

/** Options of `keys import` (commander's camelCase). */
export interface ImportOptions {
  url?: string;
  key?: string;
  json?: boolean;
  format?: ImportFormat;
  concurrency?: number;
  continueOnError?: boolean;
  dryRun?: boolean;
  secretsOut?: string;
  secretsFormat?: ImportFormat;
  quiet?: boolean;
}

/** Where `keys import` reads and writes (tests capture it). */
export interface ImportIo {
  out(text: string): void;
  err(text: string): void;
  /** The progress bar. Default process.stderr. */
  progress?: (NodeJS.WritableStream & { isTTY?: boolean }) | undefined;
  /** What `-` reads. Default process.stdin. */
  stdin?: NodeJS.ReadableStream | undefined;
}

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

/** A created key, with its secret (shown once). */
export interface CreatedKey {
  line: number;
  id: string;
  project_id: string;
  name: string;
  secret: string;
}

/** CSV columns, named after the `keys create` flags (`-` and `_` alike, any case). */
export const CSV_COLUMNS = ['project', 'name', 'models', 'rpm', 'tpm', 'max_concurrent', 'budget', 'budget_usd', 'period', 'soft', 'alert', 'metadata', 'tags', 'expires'] as const;
type Column = (typeof CSV_COLUMNS)[number];
const ALIASES: Record<string, Column> = { project_id: 'project', tag: 'tags', expires_at: 'expires' };

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
  throw new ImportError(`cannot tell the format of "${file}" from its extension (.csv, .jsonl, .ndjson): pass --format csv or --format jsonl`);
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
export function parseImport(text: string, format: ImportFormat): { rows: ImportRow[]; problems: RowProblem[] } {
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
      problems.push({ line, message: 'expected a JSON object with the fields of POST /admin/v1/keys' });
      return;
    }
    const problem = schemaProblem(value);
    if (problem) problems.push({ line, message: problem });
    else rows.push({ line, body: value as Record<string, unknown> });
  });
  return { rows, problems };
}

function parseCsvImport(text: string): { rows: ImportRow[]; problems: RowProblem[] } {
  let records;
  try {
    records = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvError) return { rows: [], problems: [{ line: error.line, message: error.message.replace(/^line \d+: /, '') }] };
    throw error;
  }
  const [header, ...data] = records;
  if (!header) return { rows: [], problems: [] };
  const columns: Column[] = [];
  const headerProblems: string[] = [];
  for (const raw of header.fields) {
    const normalized = raw.trim().toLowerCase().replace(/-/g, '_');
    const column = ALIASES[normalized] ?? (CSV_COLUMNS as readonly string[]).find((name) => name === normalized);
    if (column === undefined) headerProblems.push(`unknown column "${raw}"`);
    else if (columns.includes(column as Column)) headerProblems.push(`column "${column}" appears twice`);
    columns.push(column as Column);
  }
  if (!columns.includes('project')) headerProblems.push('the "project" column is required');
  if (headerProblems.length > 0) {
    return { rows: [], problems: [{ line: header.line, message: `header: ${headerProblems.join('; ')} (columns: ${CSV_COLUMNS.join(', ')})` }] };
  }

  const rows: ImportRow[] = [];
  const problems: RowProblem[] = [];
  for (const record of data) {
    if (record.fields.length !== columns.length) {
      problems.push({ line: record.line, message: `has ${record.fields.length} field(s), the header has ${columns.length}` });
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
    if (rowProblems.length > 0) problems.push({ line: record.line, message: rowProblems.join('; ') });
    else rows.push({ line: record.line, body });
  }
  return { rows, problems };
}

/** One CSV row → a `POST /admin/v1/keys` body, the way `keys create` turns its flags into one. */
function csvBody(cells: Map<Column, string>): { body: Record<string, unknown>; problems: string[] } {
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
  if (budget !== undefined && budgetUsd !== undefined) problems.push('set budget (µUSD) or budget_usd, not both');
  else if (budget !== undefined) {
    if (/^\d+$/.test(budget)) amount = budget;
    else problems.push(`budget: expected a whole number of µUSD, got "${budget}"`);
  } else if (budgetUsd !== undefined) {
    const plain = budgetUsd.replace(/^\$/, '');
    if (!isDecimalString(plain) || plain.startsWith('-') || plain.startsWith('+')) problems.push(`budget_usd: expected an amount such as 25.50, got "${budgetUsd}"`);
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
  if (period !== undefined && !['day', 'week', 'month', 'total'].includes(period)) problems.push(`period: expected day, week, month or total, got "${period}"`);
  if (alert !== undefined && !/^\d+$/.test(alert)) problems.push(`alert: expected a percentage from 1 to 100, got "${alert}"`);
  if (amount !== undefined) {
    body['budget'] = { amount_micros: amount, period: period ?? 'month', mode: softMode ? 'soft' : 'hard', ...(alert === undefined ? {} : { alert_percent: Number(alert) }) };
  } else if (budget === undefined && budgetUsd === undefined && (period !== undefined || softMode || alert !== undefined)) {
    problems.push('period, soft and alert need budget or budget_usd');
  }

  const metadata = get('metadata');
  if (metadata !== undefined) {
    const entries: [string, string][] = [];
    for (const item of metadata.split(';')) {
      if (item.trim() === '') continue;
      const at = item.indexOf('=');
      if (at <= 0 || item.slice(0, at).trim() === '') problems.push(`metadata: expected key=value;key=value, got "${item}"`);
      else entries.push([item.slice(0, at).trim(), item.slice(at + 1).trim()]);
    }
    body['metadata'] = Object.fromEntries(entries);
  }
  const tags = get('tags');
  if (tags !== undefined) body['tags'] = list(tags);

  const expires = get('expires');
  if (expires !== undefined && expires.toLowerCase() !== 'never') {
    if (Number.isNaN(Date.parse(expires))) problems.push(`expires: expected an ISO date-time such as 2027-01-01T00:00:00Z, got "${expires}"`);
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
    if (message.startsWith(`${path}:`) || message.startsWith(`${path}.`)) return `${column}${message.slice(path.length).replace(/^\.\d+/, '')}`;
  }
  return message;
}

/** Where created keys' secrets go as they are created: a file opened up front, or memory. */
interface SecretsFile {
  write(key: CreatedKey): void;
  close(): void;
}

/** Opens `path` for the secrets: must not exist; mode 0600; CSV gets its header at once. */
function openSecretsFile(path: string, format: ImportFormat): SecretsFile {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImportError(code === 'EEXIST' ? `--secrets-out ${path} already exists; it is never overwritten (secrets in it would be lost): choose a new file` : `cannot create --secrets-out ${path}: ${(error as Error).message}`);
  }
  fchmodSync(fd, 0o600); // whatever the umask
  if (format === 'csv') writeSync(fd, csvLine(['line', 'id', 'project', 'name', 'secret']));
  return {
    write: (key) => {
      writeSync(fd, format === 'csv' ? csvLine([String(key.line), key.id, key.project_id, key.name, key.secret]) : `${JSON.stringify(key)}\n`);
    },
    close: () => {
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    },
  };
}

async function readInput(file: string, io: ImportIo): Promise<string> {
  try {
    if (file !== '-') return readFileSync(file, 'utf8');
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin ?? process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    throw new ImportError(`cannot read ${file === '-' ? 'stdin' : file}: ${(error as Error).message}`);
  }
}

/** Line numbers as ranges: 3, 7-9, 12. */
function lineRanges(lines: number[]): string {
  const sorted = [...lines].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let index = 0; index < sorted.length; ) {
    let end = index;
    while (end + 1 < sorted.length && sorted[end + 1] === sorted[end]! + 1) end++;
    parts.push(end === index ? String(sorted[index]) : `${sorted[index]}-${sorted[end]}`);
    index = end + 1;
  }
  return parts.join(', ');
}

function problemList(problems: RowProblem[]): string {
  return [...problems]
    .sort((a, b) => a.line - b.line)
    .map((problem) => `  line ${problem.line}: ${problem.message}\n`)
    .join('');
}

function describeBody(body: Record<string, unknown>): string[] {
  const limits = (body['limits'] ?? {}) as Record<string, number | null>;
  const budget = body['budget'] as { amount_micros: string | number; period: string; mode?: string; alert_percent?: number | null } | null | undefined;
  const models = body['allowed_models'] as string[] | null | undefined;
  return [
    String(body['project_id']),
    body['name'] === undefined ? 'key' : String(body['name']),
    models ? models.join(',') : 'all',
    [limits['rpm'] ? `${limits['rpm']} rpm` : '', limits['tpm'] ? `${limits['tpm']} tpm` : '', limits['max_concurrent'] ? `${limits['max_concurrent']} concurrent` : ''].filter(Boolean).join(', ') || '-',
    budget ? `$${scaledToDecimal(BigInt(budget.amount_micros), 6)}/${budget.period} ${budget.mode ?? 'hard'}${budget.alert_percent ? `, alert ${budget.alert_percent}%` : ''}` : '-',
    body['expires_at'] === undefined || body['expires_at'] === null ? '-' : String(body['expires_at']),
  ];
}

/**
 * Runs `keys import`: sets `process.exitCode` to 1 when anything was invalid, failed or was not
 * attempted. Secrets go to `--secrets-out` or `io.out`, never to `io.err` or the progress stream.
 */
export async function importKeys(file: string, options: ImportOptions, io: ImportIo): Promise<void> {
  try {
    await run(file, options, io);
  } catch (error) {
    if (!(error instanceof ImportError)) throw error;
    io.err(`error: ${error.message}\n`);
    process.exitCode = 1;
  }
}

async function run(file: string, options: ImportOptions, io: ImportIo): Promise<void> {
  const format = detectFormat(file, options.format);
  const secretsFormat = options.secretsFormat ?? (options.secretsOut === undefined ? format : secretsExtension(options.secretsOut) ?? format);
  const source = file === '-' ? 'stdin' : file;
  const { rows, problems } = parseImport(await readInput(file, io), format);

  if (rows.length === 0 && problems.length === 0) throw new ImportError(`${source} has no keys to import`);
  if (problems.length > 0 && !options.continueOnError) {
    throw new ImportError(`${problems.length} invalid row(s) in ${source}; nothing was created (fix them, or pass --continue-on-error to import the valid rows):\n${problemList(problems).trimEnd()}`);
  }
  if (options.dryRun) {
    if (options.secretsOut !== undefined && existsSync(options.secretsOut)) throw new ImportError(`--secrets-out ${options.secretsOut} already exists; it is never overwritten`);
    if (options.json) {
      io.out(`${JSON.stringify({ dry_run: true, would_create: rows.map((row) => ({ line: row.line, body: row.body })), invalid: problems }, null, 2)}\n`);
    } else {
      io.out(`Dry run: would create ${rows.length} key(s) from ${source}; nothing was created.\n`);
      if (rows.length > 0) io.out(table(['line', 'project', 'name', 'models', 'limits', 'budget', 'expires'], rows.map((row) => [String(row.line), ...describeBody(row.body)])));
      if (problems.length > 0) io.out(`Invalid (would be skipped with --continue-on-error):\n${problemList(problems)}`);
    }
    if (problems.length > 0) process.exitCode = 1;
    return;
  }
  if (problems.length > 0) io.err(`warning: skipping ${problems.length} invalid row(s) in ${source}:\n${problemList(problems)}`);

  // Opened before the first key is created: a file that exists stops the import with nothing done.
  const secretsFile = options.secretsOut === undefined ? undefined : openSecretsFile(options.secretsOut, secretsFormat);
  const target = adminTarget(options);
  const progress = createProgress({ label: 'import', total: rows.length, stream: io.progress ?? process.stderr, quiet: options.quiet === true || options.json === true });
  const created: CreatedKey[] = [];
  const failed: RowProblem[] = [];
  /** Secrets that could not be written to --secrets-out: printed on stdout instead, so none is lost. */
  const unsaved: CreatedKey[] = [];
  let secretsError: string | undefined;
  let next = 0;
  let finished = 0;
  let stop = false;

  const worker = async () => {
    while (!stop && next < rows.length) {
      const row = rows[next++]!;
      try {
        const answer = await adminRequest(target, 'POST', '/keys', row.body);
        const key: CreatedKey = { line: row.line, id: answer.id, project_id: answer.project_id, name: answer.name, secret: answer.secret };
        created.push(key);
        if (secretsFile && secretsError === undefined) {
          try {
            secretsFile.write(key);
          } catch (error) {
            secretsError = (error as Error).message;
            stop = true;
            unsaved.push(key);
          }
        } else if (secretsFile) {
          unsaved.push(key);
        }
      } catch (error) {
        failed.push({ line: row.line, message: (error as Error).message });
        if (!options.continueOnError) stop = true;
      } finally {
        progress.update(++finished);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(Math.max(1, options.concurrency ?? 4), rows.length) }, worker));
  } finally {
    progress.done();
    try {
      secretsFile?.close();
    } catch (error) {
      secretsError ??= (error as Error).message;
    }
  }
  const skipped = rows.slice(next).map((row) => row.line);
  created.sort((a, b) => a.line - b.line);
  failed.sort((a, b) => a.line - b.line);
  unsaved.sort((a, b) => a.line - b.line);
  const shown = secretsFile ? unsaved : created;

  if (options.json) {
    const listed = created.map((key) => (secretsFile && !unsaved.includes(key) ? { ...key, secret: undefined } : key));
    io.out(`${JSON.stringify({ created: listed, failed, invalid: problems, not_attempted: skipped, ...(options.secretsOut === undefined ? {} : { secrets_out: options.secretsOut }) }, null, 2)}\n`);
  } else {
    if (shown.length > 0) {
      io.out(table(['line', 'id', 'project', 'name', 'secret'], shown.map((key) => [String(key.line), key.id, key.project_id, key.name, key.secret])));
      io.out('(secrets are shown once: store them now; only their hashes are kept)\n');
    }
    const where = secretsFile ? ` (secrets in ${options.secretsOut}${unsaved.length > 0 ? `, ${unsaved.length} printed above` : ''})` : '';
    io.out(`Created ${created.length} key(s)${where}; failed ${failed.length}${problems.length > 0 ? `; invalid ${problems.length}` : ''}${skipped.length > 0 ? `; not attempted ${skipped.length}` : ''}.\n`);
    if (failed.length > 0) io.out(`Failed:\n${problemList(failed)}`);
    if (skipped.length > 0) io.out(`Not attempted after the first failure (lines ${lineRanges(skipped)}); pass --continue-on-error to go on past failures.\n`);
  }
  if (secretsError !== undefined) {
    io.err(`error: writing ${options.secretsOut} failed (${secretsError})${unsaved.length > 0 ? '; the secrets not written to it are on stdout' : ''}\n`);
  }
  if (failed.length > 0 || problems.length > 0 || skipped.length > 0 || secretsError !== undefined) process.exitCode = 1;
}

function secretsExtension(path: string): ImportFormat | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}
