import type { IncomingHttpHeaders } from 'node:http';

/**
 * The per-request switch for `usage.cost` in the body, on every surface:
 * `x-switchyard-include-cost: true` (the chat body's `usage: {include: true}`, OpenRouter's
 * habit, and the config's `billing.costInBody` work too; see docs/billing.md).
 */
export function includeCostAsked(headers: IncomingHttpHeaders): boolean {
  const value = headers['x-switchyard-include-cost'];
  const text = Array.isArray(value) ? value[0] : value;
  return text !== undefined && /^(true|1|yes)$/i.test(text.trim());
}
