import { sendJson } from './respond.js';
import type { Route } from './types.js';

/** GET /healthz (the process is up) and GET /readyz (the store answers and we are not draining). */
export function createHealthRoutes(deps: {
  ready: () => Promise<{ ok: boolean; checks: Record<string, string> }>;
}): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      async handler(context) {
        sendJson(context.response, 200, { status: 'ok' });
      },
    },
    {
      method: 'GET',
      path: '/readyz',
      async handler(context) {
        const result = await deps.ready();
        sendJson(context.response, result.ok ? 200 : 503, {
          status: result.ok ? 'ready' : 'not_ready',
          checks: result.checks,
        });
      },
    },
  ];
}
