import {
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { adminRequest, adminTarget } from './admin-client.js';
import { csvLine } from './csv.js';
import {
  detectFormat,
  ImportError,
  type ImportFormat,
  parseImport,
  type RowProblem,
} from './key-import-rows.js';
import { createProgress } from './progress.js';
import { budgetText, limitsText, table } from './table.js';
import { merged } from '../core/objects.js';

/**
 * `switchyard keys import <file>`: creates many keys from a CSV or JSON Lines file over the admin
 * API. Every row is checked first (locally, against the same schema as `POST /admin/v1/keys`);
 * then keys are created a few at a time with a progress bar, their secrets written once (to
 * `--secrets-out`, mode 0600, or stdout), and a summary says what was created and what failed.
 * Loaded only when the command runs (it pulls in the admin API's request schema).
 */

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

/** A created key, with its secret (shown once). */
export interface CreatedKey {
  line: number;
  id: string;
  project_id: string;
  name: string;
  secret: string;
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
    throw new ImportError(
      code === 'EEXIST'
        ? `--secrets-out ${path} already exists; it is never overwritten (secrets in it would be lost): choose a new file`
        : `cannot create --secrets-out ${path}: ${(error as Error).message}`,
    );
  }
  fchmodSync(fd, 0o600); // whatever the umask
  if (format === 'csv') writeSync(fd, csvLine(['line', 'id', 'project', 'name', 'secret']));
  return {
    write: (key) => {
      writeSync(
        fd,
        format === 'csv'
          ? csvLine([String(key.line), key.id, key.project_id, key.name, key.secret])
          : `${JSON.stringify(key)}\n`,
      );
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
    for await (const chunk of io.stdin ?? process.stdin)
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    throw new ImportError(
      `cannot read ${file === '-' ? 'stdin' : file}: ${(error as Error).message}`,
    );
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
  const models = body['allowed_models'] as string[] | null | undefined;
  return [
    String(body['project_id']),
    body['name'] === undefined ? 'key' : String(body['name']),
    models ? models.join(',') : 'all',
    limitsText(body['limits'] as Parameters<typeof limitsText>[0]),
    budgetText(body['budget'] as Parameters<typeof budgetText>[0]),
    body['expires_at'] === undefined || body['expires_at'] === null
      ? '-'
      : String(body['expires_at']),
  ];
}

/**
 * Runs `keys import`: sets `process.exitCode` to 1 when anything was invalid, failed or was not
 * attempted. Secrets go to `--secrets-out` or `io.out`, never to `io.err` or the progress stream.
 */
export async function importKeys(
  file: string,
  options: ImportOptions,
  io: ImportIo,
): Promise<void> {
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
  const secretsFormat =
    options.secretsFormat ??
    (options.secretsOut === undefined ? format : (secretsExtension(options.secretsOut) ?? format));
  const source = file === '-' ? 'stdin' : file;
  const { rows, problems } = parseImport(await readInput(file, io), format);

  if (rows.length === 0 && problems.length === 0)
    throw new ImportError(`${source} has no keys to import`);
  if (problems.length > 0 && !options.continueOnError) {
    throw new ImportError(
      `${problems.length} invalid row(s) in ${source}; nothing was created (fix them, or pass --continue-on-error to import the valid rows):\n${problemList(problems).trimEnd()}`,
    );
  }
  if (options.dryRun) {
    if (options.secretsOut !== undefined && existsSync(options.secretsOut))
      throw new ImportError(
        `--secrets-out ${options.secretsOut} already exists; it is never overwritten`,
      );
    if (options.json) {
      io.out(
        `${JSON.stringify({ dry_run: true, would_create: rows.map((row) => ({ line: row.line, body: row.body })), invalid: problems }, null, 2)}\n`,
      );
    } else {
      io.out(`Dry run: would create ${rows.length} key(s) from ${source}; nothing was created.\n`);
      if (rows.length > 0)
        io.out(
          table(
            ['line', 'project', 'name', 'models', 'limits', 'budget', 'expires'],
            rows.map((row) => [String(row.line), ...describeBody(row.body)]),
          ),
        );
      if (problems.length > 0)
        io.out(`Invalid (would be skipped with --continue-on-error):\n${problemList(problems)}`);
    }
    if (problems.length > 0) process.exitCode = 1;
    return;
  }
  if (problems.length > 0)
    io.err(
      `warning: skipping ${problems.length} invalid row(s) in ${source}:\n${problemList(problems)}`,
    );

  // Opened before the first key is created: a file that exists stops the import with nothing done.
  const secretsFile =
    options.secretsOut === undefined
      ? undefined
      : openSecretsFile(options.secretsOut, secretsFormat);
  const target = adminTarget(options);
  const progress = createProgress({
    label: 'import',
    total: rows.length,
    stream: io.progress ?? process.stderr,
    quiet: options.quiet === true || options.json === true,
  });
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
        const key: CreatedKey = {
          line: row.line,
          id: answer.id,
          project_id: answer.project_id,
          name: answer.name,
          secret: answer.secret,
        };
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
    await Promise.all(
      Array.from({ length: Math.min(Math.max(1, options.concurrency ?? 4), rows.length) }, worker),
    );
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
    const listed = created.map((key) =>
      secretsFile && !unsaved.includes(key) ? merged(key, { secret: undefined }) : key,
    );
    io.out(
      `${JSON.stringify({ created: listed, failed, invalid: problems, not_attempted: skipped, ...(options.secretsOut === undefined ? {} : { secrets_out: options.secretsOut }) }, null, 2)}\n`,
    );
  } else {
    if (shown.length > 0) {
      io.out(
        table(
          ['line', 'id', 'project', 'name', 'secret'],
          shown.map((key) => [String(key.line), key.id, key.project_id, key.name, key.secret]),
        ),
      );
      io.out('(secrets are shown once: store them now; only their hashes are kept)\n');
    }
    const where = secretsFile
      ? ` (secrets in ${options.secretsOut}${unsaved.length > 0 ? `, ${unsaved.length} printed above` : ''})`
      : '';
    io.out(
      `Created ${created.length} key(s)${where}; failed ${failed.length}${problems.length > 0 ? `; invalid ${problems.length}` : ''}${skipped.length > 0 ? `; not attempted ${skipped.length}` : ''}.\n`,
    );
    if (failed.length > 0) io.out(`Failed:\n${problemList(failed)}`);
    if (skipped.length > 0)
      io.out(
        `Not attempted after the first failure (lines ${lineRanges(skipped)}); pass --continue-on-error to go on past failures.\n`,
      );
  }
  if (secretsError !== undefined) {
    io.err(
      `error: writing ${options.secretsOut} failed (${secretsError})${unsaved.length > 0 ? '; the secrets not written to it are on stdout' : ''}\n`,
    );
  }
  if (failed.length > 0 || problems.length > 0 || skipped.length > 0 || secretsError !== undefined)
    process.exitCode = 1;
}

function secretsExtension(path: string): ImportFormat | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}
