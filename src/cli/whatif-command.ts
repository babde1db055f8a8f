import { existsSync, readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import type { PeriodUnit } from '../billing/periods.js';
import { ConfigError, loadConfigFile } from '../config/index.js';
import { createProgress } from './progress.js';
import { table } from './table.js';
import { instant, periodUnit } from './arguments.js';

/**
 * `switchyard whatif --agreements alt.yaml --from 2026-10-01 --to 2026-12-01`: replays the
 * stored usage of the window through alternative agreements (src/whatif) and prints, per
 * period, what changes: requests per deployment, revenue, cost, partner accruals, share and
 * margin. Reads the store the config names; never writes it.
 */

/** Where output goes (tests capture it). */
export interface WhatIfOutput {
  out(text: string): void;
  err(text: string): void;
  /** The progress bar goes here. Default process.stderr. */
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

const STDIO: WhatIfOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

interface WhatIfCommandOptions {
  agreements: string;
  config?: string;
  store?: string;
  from?: number;
  to?: number;
  capsFrom?: number;
  periodUnit?: PeriodUnit;
  json?: boolean;
  csv?: boolean;
  quiet?: boolean;
}

/** Registers `whatif` on `program`. */
export function registerWhatIfCommand(program: Command, output: WhatIfOutput = STDIO): void {
  program
    .command('whatif')
    .description(
      'replay stored usage through alternative agreements (dry-run routing and rating) and show the differences per period',
    )
    .requiredOption(
      '--agreements <file>',
      'YAML with `partners` (and optionally `providers`, `models`) entries that replace the config’s',
    )
    .option('-c, --config <file>', 'config file (default ./switchyard.yaml or $SWITCHYARD_CONFIG)')
    .option('--store <url>', "store URL (default: the config's `store`)")
    .option(
      '--from <time>',
      'start, inclusive (ISO date or date-time); default: all stored usage',
      instant,
    )
    .option('--to <time>', 'end, exclusive; default now', instant)
    .option(
      '--caps-from <time>',
      'count usage from this instant toward revenue-share caps (replayed, not reported); default --from',
      instant,
    )
    .option(
      '--period-unit <unit>',
      "period length for the breakdown: month, week or day (default: the config's billing.period)",
      periodUnit,
    )
    .option('--json', 'print JSON (money as decimal strings of USD)')
    .option('--csv', 'print CSV')
    .option('--quiet', 'no progress bar')
    .action(async (options: WhatIfCommandOptions) => {
      try {
        await whatIf(options, output);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const problem of error.problems)
          output.err(`${problem.path || '(root)'}: ${problem.message}\n`);
        process.exitCode = 1;
      }
    });
}

async function whatIf(options: WhatIfCommandOptions, output: WhatIfOutput): Promise<void> {
  const path =
    options.config ??
    process.env['SWITCHYARD_CONFIG'] ??
    (existsSync('switchyard.yaml') ? 'switchyard.yaml' : undefined);
  if (path === undefined) throw new InvalidArgumentError('no config file: pass --config');
  const current = loadConfigFile(path);
  let text: string;
  try {
    text = readFileSync(options.agreements, 'utf8');
  } catch (error) {
    throw new ConfigError([
      { path: '(file)', message: `cannot read ${options.agreements}: ${(error as Error).message}` },
    ]);
  }
  // Loaded on demand, so `switchyard --help` stays fast.
  const [{ createDatabase, migrate }, whatif] = await Promise.all([
    import('../store/index.js'),
    import('../whatif/index.js'),
  ]);
  const alternative = whatif.alternativeConfig(current, text);
  const database = await createDatabase(options.store ?? current.store);
  try {
    // Brings an older store's usage_events up to date (columns the rows are read with).
    await migrate(database);
    const progress = createProgress({
      label: 'whatif',
      stream: output.progress ?? process.stderr,
      quiet: options.quiet === true,
    });
    const report = await whatif.runWhatIf({
      database,
      current,
      alternative,
      from: options.from ?? 0,
      to: options.to ?? Date.now(),
      ...(options.capsFrom !== undefined && { capsFrom: options.capsFrom }),
      ...(options.periodUnit !== undefined && { periodUnit: options.periodUnit }),
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.done();
    if (options.json) return output.out(`${JSON.stringify(whatif.whatIfJson(report), null, 2)}\n`);
    if (options.csv) return output.out(whatif.whatIfCsv(report));
    output.out(
      `what-if ${new Date(report.from).toISOString()} → ${new Date(report.to).toISOString()} (${report.total.requests} requests, USD)\n\n`,
    );
    output.out(
      table(
        ['period', 'metric', 'baseline', 'alternative', 'difference'],
        whatif
          .whatIfLines(report)
          .map((line) => [
            line.period,
            line.metric,
            line.baseline,
            line.alternative,
            line.difference,
          ]),
      ),
    );
  } finally {
    await database.close();
  }
}
