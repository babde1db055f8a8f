import { type Command, InvalidArgumentError } from 'commander';
import {
  type BillingOutput,
  type StoreOptions,
  storeOptions,
  withBilling,
} from './billing-store.js';
import { createProgress } from './progress.js';
import type { ExportFormat } from './statement-export.js';
import { table } from './table.js';

/**
 * `switchyard statements export`: every statement of one or more periods written as files, with
 * a manifest of their hashes (statement-export.ts does the work).
 *
 *   switchyard statements export --period 2026-09 --to-period 2026-11 --out ./statements
 */

/** Registers `statements export` on `program`. */
export function registerStatementsCommand(program: Command, output: BillingOutput): void {
  // A group of its own rather than `statement export`: `statement`'s required --period would be
  // demanded of a subcommand too, and its options would swallow the subcommand's.
  const statements = program.command('statements').description('work with many statements at once');
  storeOptions(
    statements
      .command('export')
      .description(
        'write every statement of one or more periods as files, with a manifest of their hashes',
      ),
  )
    .requiredOption(
      '--period <id>',
      'first period (YYYY-MM, YYYY-Www or YYYY-MM-DD, as for `statement`)',
    )
    .option('--to-period <id>', 'last period, inclusive (default: --period)')
    .option(
      '--partners <ids>',
      '`all` (every partner of the config) or a comma-separated list',
      subjects,
    )
    .option(
      '--customers <tenants>',
      '`all` (every tenant with ledger activity in the period) or a comma-separated list',
      subjects,
    )
    .requiredOption(
      '--out <dir>',
      'directory to write <period>/partner-<id>.csv, customer-<tenant>.csv and manifest.json into (created if missing)',
    )
    .option('--format <format>', 'csv, json or both (default: csv)', format)
    .option('--overwrite', 'write into a directory that is not empty')
    .option('--quiet', 'no progress bar')
    .option('--json', 'print the manifest as JSON instead of a table')
    .action(
      async (
        options: StoreOptions & {
          period: string;
          toPeriod?: string;
          partners?: 'all' | string[];
          customers?: 'all' | string[];
          out: string;
          format?: ExportFormat[];
          overwrite?: boolean;
          quiet?: boolean;
          json?: boolean;
        },
      ) => {
        const { exportStatements, ExportError } = await import('./statement-export.js');
        await withBilling(options, async (billing, { config }) => {
          const progress = createProgress({
            label: 'export',
            stream: output.progress ?? process.stderr,
            quiet: options.quiet === true || options.json === true,
          });
          try {
            const request = {
              period: options.period,
              toPeriod: options.toPeriod,
              unit: billing.periodUnit,
              partners: options.partners,
              customers: options.customers,
              out: options.out,
              formats: options.format ?? ['csv'],
              overwrite: options.overwrite,
            };
            const manifest = await exportStatements(
              billing,
              Object.keys(config.partners),
              request,
              (done, total) => progress.update(done, total),
            );
            progress.done();
            if (options.json)
              return output.out(`${JSON.stringify({ out: options.out, ...manifest }, null, 2)}\n`);
            output.out(
              table(
                [
                  'file',
                  'period',
                  'statement',
                  'subject',
                  'status',
                  'amount',
                  'accrued',
                  'entries',
                ],
                manifest.files.map((file) => [
                  file.file,
                  file.period,
                  file.kind,
                  file.subject,
                  file.status,
                  file.totals['net'] ?? file.totals['basis'] ?? '',
                  file.totals['accrued'] ?? '',
                  String(file.entries_count),
                ]),
              ),
            );
            output.out(
              `\nWrote ${manifest.files.length} file(s) for ${manifest.periods.join(', ')} and ${options.out}/manifest.json\n`,
            );
          } catch (error) {
            if (!(error instanceof ExportError)) throw error;
            output.err(`error: ${error.message}\n`);
            process.exitCode = 1;
          }
        });
      },
    );
}

/** `all`, or a comma-separated list of ids. */
function subjects(value: string): 'all' | string[] {
  if (value.trim() === 'all') return 'all';
  const ids = [
    ...new Set(
      value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    ),
  ];
  if (ids.length === 0)
    throw new InvalidArgumentError('expected `all` or a comma-separated list of ids');
  return ids;
}

function format(value: string): ExportFormat[] {
  if (value === 'both') return ['csv', 'json'];
  if (value === 'csv' || value === 'json') return [value];
  throw new InvalidArgumentError('expected csv, json or both');
}
