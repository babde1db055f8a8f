import { type Command, InvalidArgumentError } from 'commander';

/** The flags the access commands share (limits, budgets, key fields) and their parsers. */

/** Adds the limit, budget, metadata and tag flags of `create` and `update`. */
export function policy(command: Command): Command {
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

/** Adds a key's own flags: allowed models, expiry, include-cost. */
export function keyFlags(command: Command): Command {
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

/** A non-negative integer flag value. */
export function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new InvalidArgumentError('expected a non-negative integer');
  return parsed;
}

/** Commander keeps null as "not given", so "none" travels as -1 and becomes null in the body. */
export const CLEAR = -1;

function limit(value: string): number {
  if (value === 'none') return CLEAR;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError('expected a positive integer or "none"');
  return parsed;
}
