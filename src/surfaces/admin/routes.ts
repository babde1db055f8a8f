import type { AccessAdmin, Actor } from '../../access/index.js';
import { keyJson, levelStatusJson, projectJson, tenantJson } from '../../access/index.js';
import { GatewayError, invalidRequest, toGatewayError } from '../../errors/index.js';
import type { Gateway } from '../../gateway/types.js';
import { sendJson, sendOpenAIError } from '../../server/respond.js';
import type { HttpContext, Route } from '../../server/types.js';
import { parseJsonBody } from '../openai/validate.js';
import { credentialFrom } from '../shared/credentials.js';
import {
  parseEntityUpdate,
  parseKeyCreate,
  parseKeyUpdate,
  parseProjectCreate,
  parseRotate,
  parseTenantCreate,
} from './parse.js';
import { merged } from '../../core/objects.js';

/** What the admin routes need. */
export interface AdminRoutesDeps {
  gateway: Pick<Gateway, 'authenticate'>;
  admin: AccessAdmin;
}

type Handler = (context: HttpContext, actor: Actor) => Promise<{ status?: number; body: unknown }>;

/**
 * The admin API under `/admin/v1` (master key only; with no master key configured, loopback
 * clients): tenants, projects and keys (create, list, show with limits in force and current
 * spend, update, disable, rotate, revoke) and the audit log. Errors use the OpenAI error shape.
 */
export function createAdminRoutes(deps: AdminRoutesDeps): Route[] {
  const { admin } = deps;
  const route = (method: Route['method'], path: string, handler: Handler): Route => ({
    method,
    path: `/admin/v1${path}`,
    async handler(context) {
      try {
        const principal = await deps.gateway.authenticate(
          credentialFrom(context.request),
          context.remoteAddress,
        );
        if (!principal.isMaster) {
          throw new GatewayError('The admin API needs the master key', {
            code: 'forbidden',
            status: 403,
            errorClass: 'auth',
            retryable: false,
            failover: false,
          });
        }
        const actor: Actor = { actor: principal.keyId ?? 'loopback', requestId: context.requestId };
        const result = await handler(context, actor);
        sendJson(context.response, result.status ?? 200, result.body);
      } catch (error) {
        sendOpenAIError(context.response, toGatewayError(error));
      }
    },
  });
  const body = async (context: HttpContext) => {
    const bytes = await context.readBody();
    return bytes.length === 0 ? {} : parseJsonBody(bytes);
  };
  const id = (context: HttpContext) => context.params['id'] ?? '';
  const query = (context: HttpContext, name: string) =>
    context.url.searchParams.get(name) ?? undefined;
  const page = (context: HttpContext) => {
    const limit = query(context, 'limit');
    if (limit !== undefined && !/^\d+$/.test(limit))
      throw invalidRequest('limit must be a positive integer', 'limit');
    return {
      limit: limit === undefined ? undefined : Number(limit),
      after: query(context, 'after'),
    };
  };
  const list = <T extends { id: string }>(
    items: T[],
    render: (item: T) => unknown,
    limit: number | undefined,
  ) => ({
    object: 'list',
    data: items.map(render),
    last_id: items.at(-1)?.id ?? null,
    has_more: items.length === (limit ?? 100),
  });
  const withStatus = async (
    kind: 'tenant' | 'project' | 'key',
    entityId: string,
    rendered: object,
  ) =>
    merged(rendered, {
      levels: (await admin.status(kind, entityId)).map(levelStatusJson),
    });

  return [
    route('POST', '/tenants', async (context, actor) => ({
      status: 201,
      body: tenantJson(await admin.createTenant(parseTenantCreate(await body(context)), actor)),
    })),
    route('GET', '/tenants', async (context) => {
      const paging = page(context);
      return { body: list(await admin.listTenants(paging), tenantJson, paging.limit) };
    }),
    route('GET', '/tenants/:id', async (context) => ({
      body: await withStatus('tenant', id(context), tenantJson(await admin.getTenant(id(context)))),
    })),
    route('PATCH', '/tenants/:id', async (context, actor) => ({
      body: tenantJson(
        await admin.updateTenant(id(context), parseEntityUpdate(await body(context)), actor),
      ),
    })),
    route('POST', '/tenants/:id/disable', async (context, actor) => ({
      body: tenantJson(await admin.updateTenant(id(context), { status: 'disabled' }, actor)),
    })),
    route('POST', '/tenants/:id/enable', async (context, actor) => ({
      body: tenantJson(await admin.updateTenant(id(context), { status: 'active' }, actor)),
    })),

    route('POST', '/projects', async (context, actor) => ({
      status: 201,
      body: projectJson(await admin.createProject(parseProjectCreate(await body(context)), actor)),
    })),
    route('GET', '/projects', async (context) => {
      const paging = page(context);
      return {
        body: list(
          await admin.listProjects(merged(paging, { tenantId: query(context, 'tenant_id') })),
          projectJson,
          paging.limit,
        ),
      };
    }),
    route('GET', '/projects/:id', async (context) => ({
      body: await withStatus(
        'project',
        id(context),
        projectJson(await admin.getProject(id(context))),
      ),
    })),
    route('PATCH', '/projects/:id', async (context, actor) => ({
      body: projectJson(
        await admin.updateProject(id(context), parseEntityUpdate(await body(context)), actor),
      ),
    })),
    route('POST', '/projects/:id/disable', async (context, actor) => ({
      body: projectJson(await admin.updateProject(id(context), { status: 'disabled' }, actor)),
    })),
    route('POST', '/projects/:id/enable', async (context, actor) => ({
      body: projectJson(await admin.updateProject(id(context), { status: 'active' }, actor)),
    })),

    route('POST', '/keys', async (context, actor) => {
      const created = await admin.createKey(parseKeyCreate(await body(context)), actor);
      return { status: 201, body: merged(keyJson(created.key), { secret: created.secret }) };
    }),
    route('GET', '/keys', async (context) => {
      const paging = page(context);
      return {
        body: list(
          await admin.listKeys(
            merged(paging, {
              tenantId: query(context, 'tenant_id'),
              projectId: query(context, 'project_id'),
            }),
          ),
          keyJson,
          paging.limit,
        ),
      };
    }),
    route('GET', '/keys/:id', async (context) => ({
      body: await withStatus('key', id(context), keyJson(await admin.getKey(id(context)))),
    })),
    route('PATCH', '/keys/:id', async (context, actor) => ({
      body: keyJson(await admin.updateKey(id(context), parseKeyUpdate(await body(context)), actor)),
    })),
    route('POST', '/keys/:id/rotate', async (context, actor) => {
      const rotated = await admin.rotateKey(
        id(context),
        parseRotate(await body(context)).graceMs,
        actor,
      );
      return {
        body: merged(keyJson(rotated.key), {
          secret: rotated.secret,
          previous_valid_until: new Date(rotated.previousValidUntil).toISOString(),
        }),
      };
    }),
    route('POST', '/keys/:id/revoke', async (context, actor) => ({
      body: keyJson(await admin.revokeKey(id(context), actor)),
    })),

    route('GET', '/audit', async (context) => {
      const paging = page(context);
      const entries = await admin.listAudit(
        merged(paging, {
          targetType: query(context, 'target_type'),
          targetId: query(context, 'target_id'),
        }),
      );
      const render = (entry: (typeof entries)[number]) => ({
        id: entry.id,
        object: 'audit_entry',
        at: new Date(entry.at).toISOString(),
        actor: entry.actor,
        action: entry.action,
        target_type: entry.targetType,
        target_id: entry.targetId,
        before: entry.before,
        after: entry.after,
        request_id: entry.requestId,
      });
      return { body: list(entries, render, paging.limit) };
    }),
  ];
}
