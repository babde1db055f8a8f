import { controlWarnings } from '../providers/controls.js';
import type { RouteMeta } from './types.js';

/** The header that says what a request lost on the way (dropped controls, hosted tools). */
export const WARNINGS_HEADER = 'x-switchyard-warnings';

/** Response headers that say where a request went. */
export function routeHeaders(meta: RouteMeta): Record<string, string> {
  const headers: Record<string, string> = {
    'x-switchyard-model': meta.model,
    'x-switchyard-attempts': String(meta.attempts),
  };
  if (meta.deployment) headers['x-switchyard-deployment'] = meta.deployment;
  if (meta.partner) headers['x-switchyard-partner'] = meta.partner;
  if (meta.sandbox) headers['x-switchyard-sandbox'] = 'true';
  if (meta.netCost !== undefined) headers['x-switchyard-net-cost'] = meta.netCost;
  if (meta.netCosts) headers['x-switchyard-net-costs'] = meta.netCosts;
  if (meta.dropped && meta.dropped.length > 0)
    headers[WARNINGS_HEADER] = controlWarnings(meta.dropped).join('; ');
  return headers;
}

/**
 * The same headers for a request that failed after routing began (and its error code), so an
 * error answer says which model, cloud and how many attempts, like a successful one does.
 */
export function failureHeaders(event: {
  model: string | null;
  deployment: string | null;
  partner: string | null;
  attempts: number;
  errorCode: string | null;
}): Record<string, string> {
  const headers: Record<string, string> = {};
  if (event.model !== null) headers['x-switchyard-model'] = event.model;
  if (event.attempts > 0) headers['x-switchyard-attempts'] = String(event.attempts);
  if (event.deployment) headers['x-switchyard-deployment'] = event.deployment;
  if (event.partner) headers['x-switchyard-partner'] = event.partner;
  if (event.errorCode) headers['x-switchyard-error-code'] = event.errorCode;
  return headers;
}
