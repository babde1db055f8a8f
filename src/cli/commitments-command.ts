import { existsSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { loadConfigFile } from '../config/index.js';
import { table } from './table.js';
import { instant } from './arguments.js';

/**
 * `switchyard commitments`: the burn-down of every partner commitment (`partners.<id>.commitment`)
 * read from the store the config names, the same figures as `GET /admin/v1/billing/commitments`.
 *
 *   switchyard commitments                      the current period of each commitment
 *   switchyard commitments --period 2026-11     a past or current period
 *   switchyard commitments --partner azure --json
 */

/** Where output goes (tests capture it). */
export interface CommitmentsOutput {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: CommitmentsOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Registers `commitments` on `program`. */
export function registerCommitmentsCommand(
  program: Command,
  output: CommitmentsOutput = STDIO,
): void {
  program
    .command('commitments')
    .description(
      'burn-down of partner commitments: committed, consumed (ledger), projection, under-use warning',
    )
    .option('-c, --config <file>', 'config file (default ./switchyard.yaml or $SWITCHYARD_CONFIG)')
    .option('--store <url>', "store URL (default: the config's `store`)")
    .option('--period <id>', 'period id in the commitment period unit (default: the current one)')
    .option('--at <time>', 'the instant the projection is made at (default now)', instant)
    .option('--partner <id>', 'only this partner')
    .option('--json', 'print JSON (money as decimal strings of USD and µUSD strings)')
    .action(
      async (options: {
        config?: string;
        store?: string;
        period?: string;
        at?: number;
        partner?: string;
        json?: boolean;
      }) => {
        const path =
          options.config ??
          process.env['SWITCHYARD_CONFIG'] ??
          (existsSync('switchyard.yaml') ? 'switchyard.yaml' : undefined);
        if (path === undefined)
          throw new InvalidArgumentError('no config file: pass --config (commitments live there)');
        const config = loadConfigFile(path);
        const [{ createDatabase, migrate }, { burnDown, burnDownJson, usd }] = await Promise.all([
          import('../store/index.js'),
          import('../billing/index.js'),
        ]);
        const database = await createDatabase(options.store ?? config.store);
        try {
          await migrate(database);
          let rows: Awaited<ReturnType<typeof burnDown>>;
          try {
            rows = await burnDown(database, config, {
              at: options.at ?? Date.now(),
              period: options.period,
              partner: options.partner,
            });
          } catch (error) {
            if (!(error instanceof TypeError)) throw error;
            output.err(`error: ${error.message}\n`);
            process.exitCode = 1;
            return;
          }
          if (options.json) {
            output.out(
              `${JSON.stringify({ currency: 'USD', data: rows.map((row) => burnDownJson(row, usd)) }, null, 2)}\n`,
            );
            return;
          }
          if (rows.length === 0) {
            output.out('No partner has a commitment (partners.<id>.commitment).\n');
            return;
          }
          output.out(
            table(
              [
                'partner',
                'period',
                'elapsed',
                'committed',
                'consumed',
                'remaining',
                'projected',
                'shortfall',
                'status',
              ],
              rows.map((row) => [
                row.partner,
                row.period,
                `${(row.elapsed * 100).toFixed(1)}%`,
                `$${usd(row.committed)}`,
                `$${usd(row.consumed)}`,
                `$${usd(row.remaining)}`,
                `$${usd(row.projected)}`,
                `$${usd(row.shortfall)}`,
                row.warn ? 'UNDER-USE' : row.underUse ? 'behind (early)' : 'on track',
              ]),
            ),
          );
          for (const row of rows.filter((item) => item.warn))
            output.out(
              `warning: ${row.partner} will under-use its ${row.period} commitment by $${usd(row.shortfall)} at the current rate\n`,
            );
        } finally {
          await database.close();
        }
      },
    );
}
