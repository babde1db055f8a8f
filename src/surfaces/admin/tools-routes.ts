import { GatewayError, invalidRequest } from '../../errors/index.js';
import type { Gateway } from '../../gateway/types.js';
import {
  type HttpTool,
  type HttpToolRegistry,
  httpToolJson,
} from '../../runtime/tools/http-tools.js';
import { checkUrl, type OutboundPolicy } from '../../runtime/tools/ssrf.js';
import type { Route } from '../../server/types.js';
import { parseJsonBody } from '../openai/validate.js';
import { type MasterRouteHandler, masterRoute } from './master-route.js';
import { isRecord } from '../../core/objects.js';

/**
 * Server-registered HTTP tools under `/admin/v1/tools` (master key only): create or replace
 * (`POST`), list, show, delete. The auth header is write-only (`has_auth_header` shows it is set).
 */
export function createToolAdminRoutes(deps: {
  gateway: Pick<Gateway, 'authenticate'>;
  registry: HttpToolRegistry;
  policy: OutboundPolicy;
  clock: () => number;
}): Route[] {
  const route = (method: Route['method'], path: string, handler: MasterRouteHandler): Route =>
    masterRoute(deps.gateway, method, `/admin/v1${path}`, handler);
  const notFound = (name: string) =>
    new GatewayError(`No tool named '${name}'`, {
      code: 'not_found',
      status: 404,
      errorClass: 'invalid_request',
      retryable: false,
      failover: false,
    });
  return [
    route('POST', '/tools', async (context) => {
      const body = parseJsonBody(await context.readBody());
      const tool = parseTool(body, deps.clock(), deps.policy);
      await deps.registry.put(tool);
      return { status: 201, body: httpToolJson(tool) };
    }),
    route('GET', '/tools', async () => ({
      body: { object: 'list', data: (await deps.registry.list()).map(httpToolJson) },
    })),
    route('GET', '/tools/:name', async (context) => {
      const name = context.params['name'] ?? '';
      const tool = await deps.registry.get(name);
      if (!tool) throw notFound(name);
      return { body: httpToolJson(tool) };
    }),
    route('DELETE', '/tools/:name', async (context) => {
      const name = context.params['name'] ?? '';
      if (!(await deps.registry.remove(name))) throw notFound(name);
      return { body: { object: 'tool.deleted', name, deleted: true } };
    }),
  ];
}

function parseTool(body: unknown, now: number, policy: OutboundPolicy): HttpTool {
  if (!isRecord(body)) throw invalidRequest('Request body must be a JSON object', null);
  const name = body['name'];
  if (typeof name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(name))
    throw invalidRequest("'name' must be 1-64 characters of a-z, A-Z, 0-9, _ and -", 'name');
  const parameters = body['parameters'] ?? body['schema'];
  if (!isRecord(parameters))
    throw invalidRequest("'parameters' must be a JSON schema object", 'parameters');
  const url = body['url'];
  if (typeof url !== 'string') throw invalidRequest("'url' is required", 'url');
  try {
    checkUrl(policy, url);
  } catch (error) {
    throw invalidRequest((error as Error).message, 'url');
  }
  const auth = body['auth_header'];
  if (auth != null && (typeof auth !== 'string' || !auth.includes(':')))
    throw invalidRequest("'auth_header' must be 'Header-Name: value'", 'auth_header');
  const timeout = body['timeout_ms'] ?? 30_000;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > 600_000)
    throw invalidRequest("'timeout_ms' must be an integer between 1 and 600000", 'timeout_ms');
  const description = body['description'];
  return {
    name,
    description: typeof description === 'string' ? description : null,
    parameters,
    url,
    authHeader: typeof auth === 'string' ? auth : null,
    timeoutMs: timeout,
    idempotent: body['idempotent'] === true,
    createdAt: now,
  };
}
