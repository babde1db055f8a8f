import { existsSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import type { PeriodUnit } from '../billing/periods.js';
import { type Config, loadConfigFile } from '../config/index.js';
import { periodUnit } from './arguments.js';

/**
 * What the billing commands (billing-commands.ts, statements-command.ts) share: where their output
 * goes, the options that name the store, and opening billing over it.
 */

/** Where output goes (tests capture it). */
export interface BillingOutput {
  out(text: string): void;
  err(text: string): void;
  /** Progress bars go here. Default process.stderr. */
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** The process's stdout and stderr. */
export const STDIO: BillingOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};
/** `--config`, `--store` and `--period-unit`, as parsed. */
export interface StoreOptions {
  config?: string;
  store?: string;
  periodUnit?: PeriodUnit;
}

/** Adds `--config`, `--store` and `--period-unit` to `command`. */
export function storeOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'config file (default ./switchyard.yaml or $SWITCHYARD_CONFIG)')
    .option('--store <url>', "store URL (default: the config's `store`)")
    .option(
      '--period-unit <unit>',
      "accounting period length: month, week or day (default: the config's billing.period, else month)",
      periodUnit,
    );
}

/** Opens the store the options name, migrated, and runs `work` with billing over it; closes the store after. */
export async function withBilling(
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
