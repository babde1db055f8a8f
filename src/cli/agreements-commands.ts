import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError, loadConfigFile } from '../config/index.js';
import { createCatalog } from '../router/catalog.js';
import { type CoverageReport, coverageReport, ENDING_WITHIN_DAYS } from '../router/coverage.js';
import { table } from './table.js';

/** Where the command writes (tests capture it). */
export interface AgreementsOutput {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: AgreementsOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Renders the coverage report as a table, gaps and ends within 90 days flagged. */
export function coverageTable(report: CoverageReport): string {
  const rows = report.rows.map((row) => [
    row.model,
    row.partner ?? '(direct)',
    row.api,
    row.region ?? '-',
    row.status === 'gap' ? 'GAP' : row.status,
    row.licence
      ? `${row.licence.exclusive ? 'exclusive ' : ''}${row.licence.from?.slice(0, 10) ?? '…'}..${row.licence.until?.slice(0, 10) ?? '…'}`
      : '-',
    row.share ? `${row.share.rate}${row.share.cap ? ` cap ${row.share.cap}` : ''}` : '-',
    row.endsAt
      ? `${row.endsAt.slice(0, 10)}${row.ending ? ` ENDS IN ${row.endsInDays}d` : ''}`
      : '-',
    row.reason ?? '',
  ]);
  const lines = [
    table(['model', 'partner', 'api', 'region', 'status', 'licence', 'share', 'ends', 'why'], rows),
  ];
  for (const gap of report.gaps)
    lines.push(`gap: no agreement covers ${gap.model} for ${gap.api} requests\n`);
  const ending = report.rows.filter((row) => row.ending);
  if (ending.length > 0)
    lines.push(
      `${ending.length} covered row(s) end within ${ENDING_WITHIN_DAYS} days (flagged ENDS IN)\n`,
    );
  return lines.join('');
}

/** Registers `agreements coverage` on `program`. */
export function registerAgreementsCommands(
  program: Command,
  output: AgreementsOutput = STDIO,
): void {
  const agreements = program.command('agreements').description('partner agreements');
  agreements
    .command('coverage')
    .description(
      'list every model × partner × API kind × region with its licence, share clause and end date; flag gaps and ends within 90 days',
    )
    .option('-c, --config <file>', 'config file (default ./switchyard.yaml or $SWITCHYARD_CONFIG)')
    .option('--at <date>', 'report as of this date or instant (default now)')
    .option('--json', 'print JSON')
    .action((options: { config?: string; at?: string; json?: boolean }) => {
      const file =
        options.config ??
        process.env['SWITCHYARD_CONFIG'] ??
        (existsSync('switchyard.yaml') ? 'switchyard.yaml' : undefined);
      if (file === undefined) {
        output.err('no config file: pass --config or set SWITCHYARD_CONFIG\n');
        process.exitCode = 2;
        return;
      }
      const at = options.at === undefined ? Date.now() : Date.parse(options.at);
      if (Number.isNaN(at)) {
        output.err(`--at: not a date: ${options.at}\n`);
        process.exitCode = 2;
        return;
      }
      try {
        const config = loadConfigFile(file);
        const report = coverageReport(createCatalog(config), at);
        output.out(options.json ? `${JSON.stringify(report, null, 2)}\n` : coverageTable(report));
        // A gap is worth a non-zero exit in CI, like `config check`'s errors.
        if (report.gaps.length > 0 || report.rows.some((row) => row.status === 'gap'))
          process.exitCode = 1;
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const problem of error.problems)
          output.err(`${file}: ${problem.path}: ${problem.message}\n`);
        process.exitCode = 1;
      }
    });
}
