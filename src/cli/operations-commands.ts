import { existsSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { type Config, ConfigError, loadConfigFile } from '../config/index.js';
import type { Check } from './doctor.js';
import { createProgress } from './progress.js';
import { table } from './table.js';

/**
 * `switchyard doctor`, `switchyard migrate` and `switchyard rollups backfill`: operations commands
 * that work on the config and the store directly (no running server needed).
 */

/** Where output goes (tests capture it). */
export interface OperationsOutput {
  out(text: string): void;
  err(text: string): void;
  /** Progress bars go here. Default process.stderr. */
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

const STDIO: OperationsOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};
const MARK: Record<Check['status'], string> = {
  ok: '✔ ok',
  failed: '✘ failed',
  warn: '! warn',
  skipped: '- skipped',
};

/** Finds the config the way `serve` does: --config, $SWITCHYARD_CONFIG, ./switchyard.yaml. */
function configPath(option: string | undefined): string | undefined {
  return (
    option ??
    process.env['SWITCHYARD_CONFIG'] ??
    (existsSync('switchyard.yaml') ? 'switchyard.yaml' : undefined)
  );
}

/** Renders the doctor's checks as a table. */
export function doctorTable(checks: Check[]): string {
  return table(
    ['check', 'status', 'ms', 'detail'],
    checks.map((check) => [
      check.name,
      MARK[check.status],
      check.ms === null ? '' : String(check.ms),
      check.detail,
    ]),
  );
}

/** Registers `doctor`, `migrate` and `rollups` on `program`. */
export function registerOperationsCommands(
  program: Command,
  output: OperationsOutput = STDIO,
): void {
  program
    .command('doctor')
    .description(
      'check the config, the store, Redis and every provider (a minimal real request each); exit 1 if anything failed',
    )
    .option('-c, --config <file>', 'config file (default ./switchyard.yaml or $SWITCHYARD_CONFIG)')
    .option('--sandbox', 'check the emulated sandbox clouds (started for the check)')
    .option('--timeout-ms <ms>', 'per-check timeout', positive, 10_000)
    .option('--json', 'print the checks as JSON')
    .action(
      async (options: {
        config?: string;
        sandbox?: boolean;
        timeoutMs: number;
        json?: boolean;
      }) => {
        const { runDoctor } = await import('./doctor.js');
        let config: Config;
        let source: string;
        let close = async () => {};
        const path = configPath(options.config);
        try {
          if (path !== undefined && !options.sandbox) {
            config = loadConfigFile(path);
            source = path;
          } else {
            const { sandboxConfig, startSandboxClouds } = await import('../sandbox/preset.js');
            const sandbox = await startSandboxClouds();
            close = () => sandbox.close();
            config = sandboxConfig(sandbox);
            source = 'sandbox (no config file)';
          }
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          const checks: Check[] = error.problems.map((problem) => ({
            name: 'config',
            status: 'failed',
            detail: `${path}: ${problem.path}: ${problem.message}`,
            ms: null,
          }));
          output.out(
            options.json
              ? `${JSON.stringify({ ok: false, checks }, null, 2)}\n`
              : doctorTable(checks),
          );
          process.exitCode = 1;
          return;
        }
        try {
          const checks = await runDoctor({ config, source, timeoutMs: options.timeoutMs });
          const ok = checks.every((check) => check.status !== 'failed');
          output.out(
            options.json
              ? `${JSON.stringify({ ok, checks }, null, 2)}\n`
              : `${doctorTable(checks)}\n${ok ? 'All checks passed.' : `${checks.filter((check) => check.status === 'failed').length} check(s) failed.`}\n`,
          );
          if (!ok) process.exitCode = 1;
        } finally {
          await close();
        }
      },
    );

  program
    .command('migrate')
    .description("apply the store's pending migrations (serve also does this at start)")
    .option('-c, --config <file>', 'config file (default ./switchyard.yaml or $SWITCHYARD_CONFIG)')
    .option('--json', 'print the applied migrations as JSON')
    .option('--quiet', 'no progress bar')
    .action(async (options: { config?: string; json?: boolean; quiet?: boolean }) => {
      const path = configPath(options.config);
      if (path === undefined)
        throw new InvalidArgumentError(
          'no config file: pass --config (migrate works on the store it names)',
        );
      const config = loadConfigFile(path);
      const { createDatabase, migrate, MIGRATIONS } = await import('../store/index.js');
      const database = await createDatabase(config.store);
      const progress = createProgress({
        label: 'migrate',
        total: MIGRATIONS.length,
        stream: output.progress ?? process.stderr,
        quiet: options.quiet === true || options.json === true,
      });
      const applied: string[] = [];
      try {
        // One migration per transaction, so the bar moves; each is still all-or-nothing.
        for (let index = 0; index < MIGRATIONS.length; index++) {
          applied.push(...(await migrate(database, MIGRATIONS.slice(0, index + 1))));
          progress.update(index + 1);
        }
        progress.done();
      } finally {
        await database.close();
      }
      output.out(
        options.json
          ? `${JSON.stringify({ applied }, null, 2)}\n`
          : applied.length === 0
            ? 'The store is up to date.\n'
            : `Applied ${applied.length} migration(s): ${applied.join(', ')}\n`,
      );
    });

  const rollups = program
    .command('rollups')
    .description('usage roll-ups behind the dashboard and /admin/v1/metrics/summary');
  rollups
    .command('backfill')
    .description(
      'rebuild the roll-ups of whole days from usage_events (for a store older than roll-ups, or to repair a range)',
    )
    .option('-c, --config <file>', 'config file (default ./switchyard.yaml or $SWITCHYARD_CONFIG)')
    .option('--from <date>', 'first day (ISO date); default 30 days ago', date)
    .option('--to <date>', 'last day, inclusive (ISO date); default today', date)
    .option('--json', 'print the result as JSON')
    .option('--quiet', 'no progress bar')
    .action(
      async (options: {
        config?: string;
        from?: number;
        to?: number;
        json?: boolean;
        quiet?: boolean;
      }) => {
        const path = configPath(options.config);
        if (path === undefined)
          throw new InvalidArgumentError(
            'no config file: pass --config (the backfill reads the store it names)',
          );
        const config = loadConfigFile(path);
        const [{ createDatabase, migrate }, { createCatalog }, { backfillRollups }] =
          await Promise.all([
            import('../store/index.js'),
            import('../router/catalog.js'),
            import('../telemetry/backfill.js'),
          ]);
        const to = options.to === undefined ? Date.now() : options.to + 86_400_000 - 1;
        const from = options.from ?? to - 30 * 86_400_000;
        const database = await createDatabase(config.store);
        try {
          await migrate(database);
          const progress = createProgress({
            label: 'backfill',
            stream: output.progress ?? process.stderr,
            quiet: options.quiet === true || options.json === true,
          });
          const result = await backfillRollups({
            database,
            catalog: createCatalog(config),
            from,
            to,
            onProgress: (done, total) => progress.update(done, total),
          });
          progress.done();
          const summary = {
            events: result.events,
            from: new Date(result.from).toISOString(),
            to: new Date(result.to).toISOString(),
          };
          output.out(
            options.json
              ? `${JSON.stringify(summary, null, 2)}\n`
              : `Rebuilt roll-ups from ${summary.events} usage events, ${summary.from.slice(0, 10)} to ${summary.to.slice(0, 10)} (exclusive).\n`,
          );
        } finally {
          await database.close();
        }
      },
    );
}

function positive(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}

function date(value: string): number {
  const parsed = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(parsed))
    throw new InvalidArgumentError('expected an ISO date such as 2026-11-01');
  return parsed;
}
