import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Billing, Statement, StatementKind } from '../billing/index.js';
import { nextPeriod, parsePeriod, type PeriodUnit } from '../billing/periods.js';
import { statementCsv } from '../billing/statements.js';

/**
 * `switchyard statements export`: every statement of one or more periods written as files, for
 * finance at month end. Everything that can be refused (period ids, partner names, a non-empty
 * directory) is checked before the first file is written, so a refused export writes nothing.
 * Each file is written to a temporary name and renamed, so a reader never sees half a statement;
 * `manifest.json` (written last) lists each file's SHA-256 and its statement's ledger entry hash.
 *
 *   <out>/2026-11/partner-azure.csv
 *   <out>/2026-11/customer-acme.json
 *   <out>/manifest.json
 */

/** File formats of an export. The content is what `switchyard statement --csv` / `--json` prints. */
export type ExportFormat = 'csv' | 'json';

/** Which statements to write. */
export interface ExportRequest {
  /** First period id, in `unit`. */
  period: string;
  /** Last period id, inclusive. Default: `period`. */
  toPeriod?: string | undefined;
  unit: PeriodUnit;
  /** `all` = every partner of the config. Default: all, unless only `customers` is given. */
  partners?: 'all' | string[] | undefined;
  /** `all` = every tenant with ledger activity in the period. Default: all, unless only `partners` is given. */
  customers?: 'all' | string[] | undefined;
  out: string;
  formats: ExportFormat[];
  /** Write into a directory that already holds files (same names are replaced). */
  overwrite?: boolean | undefined;
}

/** One written file, as listed in the manifest. */
export interface ExportedFile {
  /** Path relative to the export directory, with `/`. */
  file: string;
  period: string;
  kind: StatementKind;
  subject: string;
  /** The period's state: a closed period's statement is frozen (final), an open one's a draft. */
  status: 'open' | 'closed';
  format: ExportFormat;
  sha256: string;
  entries_hash: string;
  entries_count: number;
  totals: Record<string, string>;
}

/** What an export wrote (also the body of `manifest.json`). */
export interface ExportManifest {
  object: 'statement_export';
  generated_at: string;
  period_unit: PeriodUnit;
  periods: string[];
  files: ExportedFile[];
}

/** A refused export (bad input); nothing was written. */
export class ExportError extends Error {
  override name = 'ExportError';
}

interface Job {
  period: string;
  kind: StatementKind;
  subject: string;
}

/**
 * Writes the statements `request` asks for and the manifest; returns the manifest.
 * `onProgress(done, total)` is called once the statements are known and after each one.
 */
export async function exportStatements(
  billing: Pick<Billing, 'statement' | 'customers'>,
  configuredPartners: readonly string[],
  request: ExportRequest,
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<ExportManifest> {
  const periods = periodRange(request.period, request.toPeriod, request.unit);
  const jobs = await plan(billing, configuredPartners, periods, request);
  checkDirectory(request.out, request.overwrite === true);

  onProgress(0, jobs.length);
  const files: ExportedFile[] = [];
  for (const [index, job] of jobs.entries()) {
    const statement = await billing.statement(job.kind, job.subject, job.period);
    const directory = join(request.out, job.period);
    await mkdir(directory, { recursive: true });
    for (const format of request.formats) {
      const name = `${job.kind}-${encodeURIComponent(job.subject)}.${format}`;
      const body =
        format === 'csv' ? statementCsv(statement) : `${JSON.stringify(statement, null, 2)}\n`;
      await writeAtomically(join(directory, name), body);
      files.push(listing(`${job.period}/${name}`, format, statement, body));
    }
    onProgress(index + 1, jobs.length);
  }
  const manifest: ExportManifest = {
    object: 'statement_export',
    generated_at: new Date().toISOString(),
    period_unit: request.unit,
    periods,
    files,
  };
  await writeAtomically(
    join(request.out, 'manifest.json'),
    `${JSON.stringify(manifest, null, 2)}\n`,
  );
  return manifest;
}

/**
 * The period ids from `from` to `to`, inclusive, stepping by `unit`.
 * @example periodRange('2026-09', '2026-11', 'month') // ['2026-09', '2026-10', '2026-11']
 */
export function periodRange(from: string, to: string | undefined, unit: PeriodUnit): string[] {
  const first = parseOrRefuse(from, unit);
  const last = to === undefined ? first : parseOrRefuse(to, unit);
  if (last.startsAt < first.startsAt)
    throw new ExportError(`--to-period ${last.id} is before --period ${first.id}`);
  const ids: string[] = [];
  for (let bounds = first; bounds.startsAt <= last.startsAt; bounds = nextPeriod(bounds, unit))
    ids.push(bounds.id);
  return ids;
}

/** The statements to write, partners first, each kind sorted by subject, period by period. */
async function plan(
  billing: Pick<Billing, 'customers'>,
  configuredPartners: readonly string[],
  periods: string[],
  request: ExportRequest,
): Promise<Job[]> {
  const neither = request.partners === undefined && request.customers === undefined;
  const partnerSelection = request.partners ?? (neither ? 'all' : []);
  const customerSelection = request.customers ?? (neither ? 'all' : []);
  const partners = partnerSelection === 'all' ? [...configuredPartners].sort() : partnerSelection;
  const unknown = partners.filter((partner) => !configuredPartners.includes(partner));
  if (unknown.length > 0) {
    throw new ExportError(
      `unknown partner${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (the config has ${configuredPartners.length > 0 ? configuredPartners.join(', ') : 'none'})`,
    );
  }
  const jobs: Job[] = [];
  for (const period of periods) {
    const customers =
      customerSelection === 'all' ? await billing.customers(period) : customerSelection;
    jobs.push(...partners.map((subject) => ({ period, kind: 'partner' as const, subject })));
    jobs.push(...customers.map((subject) => ({ period, kind: 'customer' as const, subject })));
  }
  return jobs;
}

/** Refuses a path that is a file, or a directory with entries unless `overwrite`. */
function checkDirectory(out: string, overwrite: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new ExportError(`${out} is not a directory`);
  if (!overwrite && readdirSync(out).length > 0)
    throw new ExportError(
      `${out} is not empty: pass --overwrite to write into it (files of the same name are replaced)`,
    );
}

/** Writes `body` next to `path` under a temporary name, then renames it into place. */
async function writeAtomically(path: string, body: string): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, body, { flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function listing(
  file: string,
  format: ExportFormat,
  statement: Statement,
  body: string,
): ExportedFile {
  return {
    file,
    period: statement.period,
    kind: statement.kind,
    subject: statement.subject,
    status: statement.status === 'final' ? 'closed' : 'open',
    format,
    sha256: createHash('sha256').update(body).digest('hex'),
    entries_hash: statement.entries.hash,
    entries_count: statement.entries.count,
    totals: statement.totals,
  };
}

function parseOrRefuse(id: string, unit: PeriodUnit) {
  try {
    return parsePeriod(id, unit);
  } catch (error) {
    throw new ExportError((error as Error).message);
  }
}
