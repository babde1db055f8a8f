import { type Command, InvalidArgumentError } from 'commander';
import { merged } from '../core/objects.js';
import { instant } from './arguments.js';
import {
  type BillingOutput,
  STDIO,
  type StoreOptions,
  storeOptions,
  withBilling,
} from './billing-store.js';
import { registerStatementsCommand } from './statements-command.js';
import { table } from './table.js';

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

const DIMENSIONS = ['tenant', 'project', 'key', 'model', 'partner', 'cloud'] as const;

/** Registers `usage`, `statement` and `statements export` on `program`. */
export function registerBillingCommands(program: Command, output: BillingOutput = STDIO): void {
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
  registerStatementsCommand(program, output);
}
