import { type Command, InvalidArgumentError } from 'commander';
import { decimalToScaled, isDecimalString } from '../core/money.js';
import {
  AdminError,
  type AdminJson,
  adminRequest,
  adminTarget,
  type AdminTarget,
} from './admin-client.js';
import { budgetRulesBody } from './budget-rules.js';
import { details, table } from './table.js';
import { levelsTable, listTable, summary } from './access-tables.js';
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

interface PolicyFlags {
  name?: string;
  rpm?: number;
  tpm?: number;
  maxConcurrent?: number;
  budget?: string;
  budgetUsd?: string;
  period?: string;
  soft?: boolean;
  alert?: number;
  metadata?: string[];
  tag?: string[];
  budgetRule?: string[];
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

function policy(command: Command): Command {
  return command
    .option('--rpm <n>', 'requests per minute ("none" to clear)', limit)
    .option('--tpm <n>', 'tokens per minute ("none" to clear)', limit)
    .option('--max-concurrent <n>', 'requests in flight ("none" to clear)', limit)
    .option('--budget <micros>', 'budget in µUSD ("none" removes it)')
    .option('--budget-usd <usd>', 'budget in USD, e.g. 25.50')
    .option('--period <period>', 'budget period: day | week | month | total (default month)')
    .option('--soft', 'soft budget: alert, never refuse')
    .option('--alert <percent>', 'alert when spend reaches this percent of the budget', integer)
    .option(
      '--budget-rule <spec...>',
      'budget per model and/or end user, e.g. "models=gpt-4o*+o3,usd=25,period=day,per-user,alert=80"; replaces all rules ("none" removes them)',
    )
    .option('--metadata <key=value...>', 'metadata entries')
    .option('--tag <tag...>', 'tags');
}

function keyFlags(command: Command): Command {
  return command
    .option(
      '--models <patterns>',
      'allowed models, comma-separated ("gpt-4o*"; "all" for every model)',
    )
    .option('--expires <instant>', 'expiry (ISO date-time; "never" to clear)')
    .option(
      '--include-cost <on|off>',
      'answer usage.cost (the booked cost, USD) in the body of every call made with the key',
      onOff,
    );
}

/** `on` / `off` (also true/false, yes/no, 1/0) → boolean. */
function onOff(value: string): boolean {
  if (/^(on|true|yes|1)$/i.test(value)) return true;
  if (/^(off|false|no|0)$/i.test(value)) return false;
  throw new InvalidArgumentError('expected on or off');
}

function entityBody(
  options: PolicyFlags & { disable?: boolean; enable?: boolean },
  creating: boolean,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (options.name !== undefined) body['name'] = options.name;
  if (options.disable) body['status'] = 'disabled';
  if (options.enable) body['status'] = 'active';
  const limits: Record<string, number | null> = {};
  const set = (field: string, value: number | undefined) => {
    if (value !== undefined) limits[field] = value === CLEAR ? null : value;
  };
  set('rpm', options.rpm);
  set('tpm', options.tpm);
  set('max_concurrent', options.maxConcurrent);
  if (Object.keys(limits).length > 0) body['limits'] = limits;
  const amount = budgetMicros(options);
  if (amount === null) body['budget'] = null;
  else if (amount !== undefined) {
    body['budget'] = {
      amount_micros: amount,
      period: options.period ?? 'month',
      mode: options.soft ? 'soft' : 'hard',
      ...(options.alert === undefined ? {} : { alert_percent: options.alert }),
    };
  } else if (options.period !== undefined || options.soft || options.alert !== undefined) {
    throw new InvalidArgumentError('--period, --soft and --alert need --budget or --budget-usd');
  }
  const rules = budgetRulesBody(options.budgetRule);
  if (rules !== undefined) body['budget_rules'] = rules;
  if (options.metadata) body['metadata'] = Object.fromEntries(options.metadata.map(pair));
  if (options.tag) body['tags'] = options.tag;
  if (creating && body['status'] !== undefined) delete body['status'];
  return body;
}

function keyBody(
  options: PolicyFlags & { models?: string; expires?: string; includeCost?: boolean },
): Record<string, unknown> {
  const body = entityBody(options, false);
  if (options.models !== undefined)
    body['allowed_models'] =
      options.models === 'all'
        ? null
        : options.models
            .split(',')
            .map((item) => item.trim())
            .filter(Boolean);
  if (options.expires !== undefined)
    body['expires_at'] = options.expires === 'never' ? null : options.expires;
  if (options.includeCost !== undefined) body['include_cost'] = options.includeCost;
  return body;
}

function budgetMicros(options: PolicyFlags): string | null | undefined {
  if (options.budget === 'none') return null;
  if (options.budget !== undefined) {
    if (!/^\d+$/.test(options.budget))
      throw new InvalidArgumentError('--budget is a whole number of µUSD (or "none")');
    return options.budget;
  }
  if (options.budgetUsd !== undefined) {
    if (!isDecimalString(options.budgetUsd))
      throw new InvalidArgumentError('--budget-usd is a decimal amount such as 25.50');
    return decimalToScaled(options.budgetUsd, 6).toString();
  }
  return undefined;
}

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

function pair(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`--metadata expects key=value, got "${text}"`);
  return [text.slice(0, at), text.slice(at + 1)];
}

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new InvalidArgumentError('expected a non-negative integer');
  return parsed;
}

/** Commander keeps null as "not given", so "none" travels as -1 and becomes null in the body. */
const CLEAR = -1;

function limit(value: string): number {
  if (value === 'none') return CLEAR;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError('expected a positive integer or "none"');
  return parsed;
}

const IMPORT_HELP = `
Columns of a CSV file (header row; any order; only project is required):
  project, name, models (comma- or semicolon-separated, "all"), rpm, tpm, max_concurrent,
  budget (µUSD) or budget_usd, period (day|week|month|total), soft (true|false), alert (percent),
  metadata (key=value;key=value), tags (comma- or semicolon-separated), expires (ISO date-time)
A JSON Lines file holds one POST /admin/v1/keys body per line (project_id, name, allowed_models,
limits, budget, metadata, tags, expires_at).

Every row is checked before any key is created; bad rows are listed with their line numbers.
Secrets are shown once: without --secrets-out they are printed on stdout.

Example:
  $ cat keys.csv
  project,name,models,rpm,budget_usd,period,metadata,tags
  acme-web,ci,"gpt-4o*,claude-*",600,25,month,team=infra;owner=ana,ci
  acme-api,batch,gpt-4o-mini,,100,week,,batch
  $ switchyard keys import keys.csv --secrets-out keys-secrets.csv
`;

function format(value: string): 'csv' | 'jsonl' {
  if (value === 'csv' || value === 'jsonl') return value;
  if (value === 'ndjson') return 'jsonl';
  throw new InvalidArgumentError('expected csv or jsonl');
}

function concurrency(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 64)
    throw new InvalidArgumentError('expected an integer from 1 to 64');
  return parsed;
}
