import { existsSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { type Config, loadConfigFile } from '../config/index.js';
import type { PeriodUnit } from '../billing/periods.js';
import { createProgress } from './progress.js';
import type { ExportFormat } from './statement-export.js';
import { table } from './table.js';
import { instant, periodUnit } from './arguments.js';
import { merged } from '../core/objects.js';

/**
 * `switchyard usage` and `switchyard statement`: billing reports read from the store the config
 * names (no running server needed), the same figures as `/admin/v1/billing/usage` and
 * `/admin/v1/billing/statements`.
 *
 *   switchyard usage --from 2026-11-01 --to 2026-12-01 --group-by tenant,model
 *   switchyard statement --partner azure --period 2026-11 [--csv | --json]
 *   switchyard statement --partner azure --period 2026-W48    (with billing.period: week)
 *   switchyard statements export --period 2026-09 --to-period 2026-11 --out ./statements
 */

/** Where output goes (tests capture it). */
export interface BillingOutput {
  out(text: string): void;
  err(text: string): void;
  /** Progress bars go here. Default process.stderr. */
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

const STDIO: BillingOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};
const DIMENSIONS = ['tenant', 'project', 'key', 'model', 'partner', 'cloud'] as const;

interface StoreOptions {
  config?: string;
  store?: string;
  periodUnit?: PeriodUnit;
}

/** Registers `usage`, `statement` and `statements export` on `program`. */
export function registerBillingCommands(program: Command, output: BillingOutput = STDIO): void {
  const storeOptions = (command: Command) =>
    command
      .option(
        '-c, --config <file>',
        'config file (default ./switchyard.yaml or $SWITCHYARD_CONFIG)',
      )
      .option('--store <url>', "store URL (default: the config's `store`)")
      .option(
        '--period-unit <unit>',
        "accounting period length: month, week or day (default: the config's billing.period, else month)",
        periodUnit,
      );

  const usage = storeOptions(
    program
      .command('usage')
      .description(
        'usage and revenue by tenant, project, key, model, partner and cloud over a time range',
      ),
  )
    .option(
      '--from <time>',
      'start, inclusive (ISO date or date-time); default 30 days before --to',
      instant,
    )
    .option('--to <time>', 'end, exclusive; default now', instant)
    .option(
      '--group-by <dimensions>',
      `comma-separated: ${DIMENSIONS.join(', ')}`,
      (value: string) =>
        value
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean),
    )
    .option('--json', 'print JSON (money as decimal strings of USD)');
  for (const dimension of DIMENSIONS) usage.option(`--${dimension} <id>`, `only this ${dimension}`);
  usage.action(
    async (
      options: StoreOptions &
        Record<string, unknown> & {
          from?: number;
          to?: number;
          groupBy?: string[];
          json?: boolean;
        },
    ) => {
      await withBilling(options, async (billing, { usd }) => {
        const to = options.to ?? Date.now();
        const from = options.from ?? to - 30 * 86_400_000;
        const groupBy = (options.groupBy ?? []) as Array<(typeof DIMENSIONS)[number]>;
        const where = Object.fromEntries(
          DIMENSIONS.filter((dimension) => typeof options[dimension] === 'string').map(
            (dimension) => [dimension, options[dimension] as string],
          ),
        );
        const rows = await billing.report({ from, to, groupBy, where });
        const money = (row: (typeof rows)[number]) => ({
          revenue: usd(row.revenue),
          cost: usd(row.cost),
          share: usd(row.share),
          margin: usd(row.margin),
        });
        if (options.json) {
          const data = rows.map((row) =>
            merged(row.dimensions, {
              requests: row.requests,
              errors: row.errors,
              input_tokens: row.inputTokens,
              cached_input_tokens: row.cachedInputTokens,
              cache_write_tokens: row.cacheWriteTokens,
              cache_write_1h_tokens: row.cacheWrite1hTokens,
              output_tokens: row.outputTokens,
              ...money(row),
            }),
          );
          output.out(
            `${JSON.stringify({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), currency: 'USD', data }, null, 2)}\n`,
          );
          return;
        }
        const columns = [
          ...groupBy,
          'requests',
          'errors',
          'input',
          'cache read',
          'cache write',
          'output',
          'revenue',
          'cost',
          'share',
          'margin',
        ];
        output.out(
          table(
            columns,
            rows.map((row) => {
              const figures = money(row);
              return [
                ...groupBy.map((dimension) => row.dimensions[dimension] || '-'),
                String(row.requests),
                String(row.errors),
                String(row.inputTokens),
                String(row.cachedInputTokens),
                String(row.cacheWriteTokens),
                String(row.outputTokens),
                figures.revenue,
                figures.cost,
                figures.share,
                figures.margin,
              ];
            }),
          ),
        );
      });
    },
  );

  storeOptions(
    program
      .command('statement')
      .description(
        'a partner or customer statement for a period (frozen once the period is closed)',
      ),
  )
    .option('--partner <id>', 'partner statement (revenue share)')
    .option('--customer <tenant>', 'customer statement (charges, refunds, credits)')
    .requiredOption(
      '--period <id>',
      'period: YYYY-MM for months, YYYY-Www (ISO week) for weeks, YYYY-MM-DD for days',
    )
    .option('--csv', 'print CSV')
    .option('--json', 'print JSON')
    .action(
      async (
        options: StoreOptions & {
          partner?: string;
          customer?: string;
          period: string;
          csv?: boolean;
          json?: boolean;
        },
      ) => {
        if ((options.partner === undefined) === (options.customer === undefined))
          throw new InvalidArgumentError('give --partner or --customer');
        await withBilling(options, async (billing, { csv }) => {
          const kind = options.partner === undefined ? 'customer' : 'partner';
          const statement = await billing.statement(
            kind,
            (options.partner ?? options.customer)!,
            options.period,
          );
          if (options.json) return output.out(`${JSON.stringify(statement, null, 2)}\n`);
          if (options.csv) return output.out(csv(statement));
          const partner = kind === 'partner';
          output.out(
            `${kind} statement ${statement.subject} ${statement.period} (${statement.status}, USD)\n\n`,
          );
          output.out(
            table(
              [
                'line',
                'model',
                'cloud',
                'adjusts',
                'transactions',
                partner ? 'basis' : 'amount',
                ...(partner ? ['accrued'] : []),
                'input',
                'cache read',
                'cache write',
                'output',
              ],
              statement.lines.map((line) => [
                line.kind,
                line.model || '-',
                line.cloud || '-',
                line.adjusts_period ?? '-',
                String(line.transactions),
                line.amount,
                ...(partner ? [line.accrued ?? ''] : []),
                // '-' on a statement frozen before lines carried tokens.
                ...[
                  line.input_tokens,
                  line.cached_input_tokens,
                  line.cache_write_tokens,
                  line.output_tokens,
                ].map((tokens) => (tokens === undefined ? '-' : String(tokens))),
              ]),
            ),
          );
          output.out(
            `\n${Object.entries(statement.totals)
              .map(([name, value]) => `${name}: ${value}`)
              .join('\n')}\nentries: ${statement.entries.count}  ${statement.entries.hash}\n`,
          );
        });
      },
    );

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

async function withBilling(
  options: StoreOptions,
  work: (
    billing: import('../billing/index.js').Billing,
    helpers: {
      usd: (micros: bigint) => string;
      csv: typeof import('../billing/index.js').statementCsv;
      config: Pick<Config, 'partners'>;
    },
  ) => Promise<unknown>,
): Promise<void> {
  const path =
    options.config ??
    process.env['SWITCHYARD_CONFIG'] ??
    (existsSync('switchyard.yaml') ? 'switchyard.yaml' : undefined);
  if (path === undefined && options.store === undefined)
    throw new InvalidArgumentError('no config file: pass --config or --store');
  const config =
    path === undefined ? { models: {}, partners: {}, store: options.store! } : loadConfigFile(path);
  // Loaded on demand, so `switchyard --help` stays fast.
  const [{ createDatabase, migrate }, { createBilling, statementCsv, usd }] = await Promise.all([
    import('../store/index.js'),
    import('../billing/index.js'),
  ]);
  const database = await createDatabase(options.store ?? config.store);
  try {
    await migrate(database);
    const billing = createBilling({
      config,
      database,
      ...(options.periodUnit === undefined ? {} : { periodUnit: options.periodUnit }),
    });
    await work(billing, { usd, csv: statementCsv, config });
  } finally {
    await database.close();
  }
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
