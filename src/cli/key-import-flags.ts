import { InvalidArgumentError } from 'commander';

/** `switchyard keys import`: its help text and the parsers of its own flags. */

/** Help text after `keys import --help`: the file formats and an example. */
export const IMPORT_HELP = `
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

/** A `--format` / `--secrets-format` value (`ndjson` is `jsonl`). */
export function format(value: string): 'csv' | 'jsonl' {
  if (value === 'csv' || value === 'jsonl') return value;
  if (value === 'ndjson') return 'jsonl';
  throw new InvalidArgumentError('expected csv or jsonl');
}

/** A `--concurrency` value, 1 to 64. */
export function concurrency(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 64)
    throw new InvalidArgumentError('expected an integer from 1 to 64');
  return parsed;
}
