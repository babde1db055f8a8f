import type { Gateway } from '../../gateway/types.js';
import { type ConversationsService, invalidParam } from '../../runtime/index.js';
import type { HttpContext, Route } from '../../server/types.js';
import { parseJsonBody } from '../openai/validate.js';
import { jsonHandler, listOptions, parseMetadata } from '../openai-responses/index.js';
import { isRecord } from '../../core/objects.js';

/** What the Conversations routes need. */
export interface ConversationsRoutesDeps {
  gateway: Gateway;
  conversations: ConversationsService;
}

/**
 * The OpenAI Conversations API (../shared/specs/responses-api.md §4): create (with up to 20
 * items), retrieve, update metadata, delete (items are kept), and the items endpoints (create
 * up to 20, list with `limit`/`order`/`after`, get, delete → the conversation).
 */
export function createConversationsRoutes(deps: ConversationsRoutesDeps): Route[] {
  const { gateway, conversations } = deps;
  const id = (context: HttpContext) => context.params['id']!;

  const create = jsonHandler(gateway, async (context, principal) => {
    const body = (await optionalBody(context)) ?? {};
    const items = body['items'] ?? [];
    if (!Array.isArray(items))
      throw invalidParam("Invalid type for 'items': expected an array.", 'items', 'invalid_type');
    return conversations.create(principal, { metadata: parseMetadata(body['metadata']), items });
  });
  const update = jsonHandler(gateway, async (context, principal) => {
    const body = (await optionalBody(context)) ?? {};
    if (body['metadata'] === undefined)
      throw invalidParam(
        "Missing required parameter: 'metadata'.",
        'metadata',
        'missing_required_parameter',
      );
    return conversations.update(principal, id(context), parseMetadata(body['metadata']));
  });
  const createItems = jsonHandler(gateway, async (context, principal) => {
    const body = (await optionalBody(context)) ?? {};
    const items = body['items'];
    if (!Array.isArray(items))
      throw invalidParam(
        "Missing required parameter: 'items'.",
        'items',
        'missing_required_parameter',
      );
    return conversations.createItems(principal, id(context), items);
  });

  const routes: Route[] = [];
  for (const prefix of ['/v1', '']) {
    const base = `${prefix}/conversations`;
    routes.push(
      { method: 'POST', path: base, handler: create },
      {
        method: 'GET',
        path: `${base}/:id`,
        handler: jsonHandler(gateway, (context, principal) =>
          conversations.retrieve(principal, id(context)),
        ),
      },
      { method: 'POST', path: `${base}/:id`, handler: update },
      {
        method: 'DELETE',
        path: `${base}/:id`,
        handler: jsonHandler(gateway, (context, principal) =>
          conversations.delete(principal, id(context)),
        ),
      },
      { method: 'POST', path: `${base}/:id/items`, handler: createItems },
      {
        method: 'GET',
        path: `${base}/:id/items`,
        handler: jsonHandler(gateway, (context, principal) =>
          conversations.listItems(principal, id(context), listOptions(context.url)),
        ),
      },
      {
        method: 'GET',
        path: `${base}/:id/items/:item`,
        handler: jsonHandler(gateway, (context, principal) =>
          conversations.getItem(principal, id(context), context.params['item']!),
        ),
      },
      {
        method: 'DELETE',
        path: `${base}/:id/items/:item`,
        handler: jsonHandler(gateway, (context, principal) =>
          conversations.deleteItem(principal, id(context), context.params['item']!),
        ),
      },
    );
  }
  return routes;
}

/** The JSON object body, or undefined when the body is empty (`POST /conversations` may send none). */
async function optionalBody(context: HttpContext): Promise<Record<string, unknown> | undefined> {
  const bytes = await context.readBody();
  if (bytes.length === 0) return undefined;
  const body = parseJsonBody(bytes);
  if (!isRecord(body))
    throw invalidParam('Request body must be a JSON object.', null, 'invalid_type');
  return body;
}
