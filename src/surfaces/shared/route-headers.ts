import type { RouteMeta } from '../../gateway/types.js';

/** Response headers that say where a request went. */
export function routeHeaders(meta: RouteMeta): Record<string, string> {
  const headers: Record<string, string> = {
    'x-switchyard-model': meta.model,
    'x-switchyard-attempts': String(meta.attempts),
  };
  if (meta.deployment) headers['x-switchyard-deployment'] = meta.deployment;
  if (meta.partner) headers['x-switchyard-partner'] = meta.partner;
  if (meta.sandbox) headers['x-switchyard-sandbox'] = 'true';
  return headers;
}
