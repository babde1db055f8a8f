import { type Command, InvalidArgumentError } from 'commander';
import {
  AdminError,
  type AdminJson,
  adminRequest,
  adminTarget,
  type AdminTarget,
} from './admin-client.js';
import { entityBody, keyBody, query } from './access-bodies.js';
import { integer, keyFlags, policy } from './access-flags.js';
import { details, table } from './table.js';
import { levelsTable, listTable, summary } from './access-tables.js';
import { concurrency, format, IMPORT_HELP } from './key-import-flags.js';
import { merged } from '../core/objects.js';

/**
 * `switchyard tenants|projects|keys|audit`: thin commands over the admin API (`/admin/v1`), sent
 * over HTTP to `--url` (or `$SWITCHYARD_URL`) with `--key` (or `$SWITCHYARD_MASTER_KEY`). Lists
 * print tables, single objects `key: value` lines; `--json` prints the API's JSON instead.
 */

/** Where output goes (tests capture it). */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** Progress bars (`keys import`) go here. Default process.stderr. */
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
  /** What `keys import -` reads. Default process.stdin. */
  stdin?: NodeJS.ReadableStream;
}

const STDIO: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

interface Common {
  url?: string;
  key?: string;
  json?: boolean;
}

/** A command's parsed flags (commander types them loosely). */
type CommandOptions = AdminJson;

/** Registers the access commands on `program`. */
export function registerAccessCommands(program: Command, output: Output = STDIO): void {
  const run =
    (
      work: (target: AdminTarget, options: CommandOptions, ...args: string[]) => Promise<unknown>,
      render: (result: AdminJson, options: CommandOptions) => string,
    ) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = command.opts() as Common;
      const positional = args.slice(0, -2).filter((arg): arg is string => typeof arg === 'string');
      try {
        const result = await work(adminTarget(options), options, ...positional);
        output.out(options.json ? `${JSON.stringify(result, null, 2)}\n` : render(result, options));
      } catch (error) {
        if (!(error instanceof AdminError || error instanceof InvalidArgumentError)) throw error;
        output.err(`error: ${error.message}\n`);
        process.exitCode = 1;
      }
    };
  const common = (command: Command) =>
    command
      .option(
        '--url <url>',
        'Switchyard base URL (default $SWITCHYARD_URL or http://127.0.0.1:8080)',
      )
      .option('--key <key>', 'master key (default $SWITCHYARD_MASTER_KEY)')
      .option('--json', 'print the JSON answer');

  for (const kind of ['tenants', 'projects', 'keys'] as const) {
    const singular = kind.slice(0, -1);
    const group = program.command(kind).description(`manage ${kind} through the admin API`);
    const path = `/${kind}`;
    const create = common(policy(group.command('create').description(`create a ${singular}`)));
    if (kind === 'tenants')
      create
        .requiredOption('--name <name>', 'display name')
        .option('--id <id>', 'id (default: generated)');
    if (kind === 'projects')
      create
        .requiredOption('--tenant <id>', 'tenant')
        .requiredOption('--name <name>', 'display name')
        .option('--id <id>', 'id (default: generated)');
    if (kind === 'keys')
      keyFlags(
        create.requiredOption('--project <id>', 'project').option('--name <name>', 'display name'),
      );
    create.action(
      run(
        (target, options) =>
          adminRequest(
            target,
            'POST',
            path,
            merged(
              kind === 'keys' ? keyBody(options) : entityBody(options, true),
              options.id ? { id: options.id } : {},
              merged(
                options.tenant ? { tenant_id: options.tenant } : {},
                options.project ? { project_id: options.project } : {},
              ),
            ),
          ),
        (result) =>
          kind === 'keys'
            ? `${details(summary(result))}\nsecret:  ${result.secret}\n(shown once: store it now; only its hash is kept)\n`
            : details(summary(result)),
      ),
    );

    const list = common(group.command('list').description(`list ${kind}`))
      .option('--limit <n>', 'page size (1-1000)', integer)
      .option('--after <id>', 'the last id of the previous page');
    if (kind !== 'tenants') list.option('--tenant <id>', 'only this tenant');
    if (kind === 'keys') list.option('--project <id>', 'only this project');
    list.action(
      run(
        (target, options) =>
          adminRequest(
            target,
            'GET',
            `${path}${query({ limit: options.limit, after: options.after, tenant_id: options.tenant, project_id: options.project })}`,
          ),
        (result) =>
          listTable(kind, result.data) +
          (result.has_more ? `(more: --after ${result.last_id})\n` : ''),
      ),
    );

    common(
      group
        .command('show <id>')
        .description(`show a ${singular}, its limits in force and current spend`),
    ).action(
      run(
        (target, _options, id) => adminRequest(target, 'GET', `${path}/${encodeURIComponent(id!)}`),
        (result) => `${details(summary(result))}\n${levelsTable(result.levels)}`,
      ),
    );

    const update = common(
      policy(
        group
          .command('update <id>')
          .description(`change a ${singular}; "none" clears a limit or the budget`),
      ),
    );
    update
      .option('--disable', 'refuse its requests')
      .option('--enable', 'serve its requests again');
    if (kind === 'keys') keyFlags(update);
    update.action(
      run(
        (target, options, id) =>
          adminRequest(
            target,
            'PATCH',
            `${path}/${encodeURIComponent(id!)}`,
            kind === 'keys' ? keyBody(options) : entityBody(options, false),
          ),
        (result) => details(summary(result)),
      ),
    );

    if (kind === 'keys') {
      common(
        group
          .command('rotate <id>')
          .description('issue a new secret; the old one works for the grace period'),
      )
        .option(
          '--grace <seconds>',
          'how long the old secret keeps working (default 3600)',
          integer,
        )
        .action(
          run(
            (target, options, id) =>
              adminRequest(
                target,
                'POST',
                `${path}/${encodeURIComponent(id!)}/rotate`,
                options.grace === undefined ? {} : { grace_seconds: options.grace },
              ),
            (result) =>
              `${details(summary(result))}\nsecret:  ${result.secret}\n(shown once; the old secret works until ${result.previous_valid_until})\n`,
          ),
        );
      common(
        group.command('revoke <id>').description('revoke the key at once, on every replica'),
      ).action(
        run(
          (target, _options, id) =>
            adminRequest(target, 'POST', `${path}/${encodeURIComponent(id!)}/revoke`),
          (result) => details(summary(result)),
        ),
      );
      common(
        group
          .command('import <file>')
          .description(
            'create many keys from a CSV or JSON Lines file ("-" reads stdin), with a progress bar',
          ),
      )
        .option(
          '--format <format>',
          'csv | jsonl (default: from the extension: .csv, .jsonl, .ndjson)',
          format,
        )
        .option('--concurrency <n>', 'keys created at once (1-64)', concurrency, 4)
        .option(
          '--continue-on-error',
          'import the valid rows and go on past failed ones (default: nothing if any row is invalid; stop at the first failure)',
        )
        .option('--dry-run', 'check every row and show what would be created; create nothing')
        .option(
          '--secrets-out <file>',
          'write the secrets here (created with mode 0600; never overwritten) instead of stdout',
        )
        .option(
          '--secrets-format <format>',
          'csv | jsonl (default: from the --secrets-out extension, else the input format)',
          format,
        )
        .option('--quiet', 'no progress bar')
        .addHelpText('after', IMPORT_HELP)
        .action(async (file: string, _options: unknown, command: Command) => {
          const { importKeys } = await import('./key-import.js');
          await importKeys(file, command.opts(), output);
        });
    } else {
      for (const verb of ['disable', 'enable'] as const) {
        common(
          group
            .command(`${verb} <id>`)
            .description(`${verb} the ${singular} (and every key under it)`),
        ).action(
          run(
            (target, _options, id) =>
              adminRequest(target, 'POST', `${path}/${encodeURIComponent(id!)}/${verb}`),
            (result) => details(summary(result)),
          ),
        );
      }
    }
  }

  common(program.command('audit').description('show the admin audit log, newest first'))
    .option('--target-type <type>', 'tenant | project | key')
    .option('--target-id <id>', 'one entity')
    .option('--limit <n>', 'page size', integer)
    .option('--after <id>', 'the last id of the previous page')
    .action(
      run(
        (target, options) =>
          adminRequest(
            target,
            'GET',
            `/audit${query({ target_type: options.targetType, target_id: options.targetId, limit: options.limit, after: options.after })}`,
          ),
        (result) =>
          table(
            ['at', 'actor', 'action', 'target', 'id'],
            result.data.map((entry: AdminJson) => [
              entry.at,
              entry.actor,
              entry.action,
              `${entry.target_type}:${entry.target_id}`,
              entry.id,
            ]),
          ),
      ),
    );
}
