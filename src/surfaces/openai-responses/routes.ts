import { toGatewayError } from '../../errors/index.js';
import type { Gateway, Principal } from '../../gateway/types.js';
import {
  type CallContext,
  invalidParam,
  type ResponsesService,
  RuntimeError,
} from '../../runtime/index.js';
import { sendJson, startSse, write } from '../../server/respond.js';
import type { HttpContext, Route } from '../../server/types.js';
import { tagsFrom } from '../openai/chat.js';
import { routeHeaders, WARNINGS_HEADER } from '../../gateway/route-headers.js';
import { includeCostAsked } from '../shared/cost.js';
import { authenticate, jsonHandler, listOptions, readJson, sendResponsesError } from './http.js';
import { parseCreateResponse, parseInput } from './validate.js';
import { merged, isRecord } from '../../core/objects.js';

/** What the Responses routes need. */
export interface ResponsesRoutesDeps {
  gateway: Gateway;
  responses: ResponsesService;
}

/**
 * The OpenAI Responses API (../shared/specs/responses-api.md §0): create (JSON or SSE),
 * retrieve (or replay its stream with `?stream=true&starting_after=N`), delete, input items,
 * compact, input token counts. Mounted under `/v1/responses` (and `/responses`).
 */
export function createResponsesRoutes(deps: ResponsesRoutesDeps): Route[] {
  const { gateway, responses } = deps;

  const create = async (context: HttpContext): Promise<void> => {
    const { response } = context;
    let principal: Principal | null = null;
    let model: string | null = null;
    let stream = false;
    let parsed = false;
    try {
      principal = await authenticate(gateway, context);
      const params = parseCreateResponse(await readJson(context));
      ({ model, stream } = params);
      parsed = true;
      const outcome = await responses.create(params, callContext(context, principal));
      const headers: Record<string, string> = merged(outcome.headers, routeHeaders(outcome.meta));
      // Dropped hosted tools (runtime/tools/hosted-tools.ts) and controls (validate.ts, and the
      // serving deployment's: providers/controls.ts): said, not silent.
      const warnings = [...(params.warnings ?? []), headers[WARNINGS_HEADER]].filter(Boolean);
      if (warnings.length > 0) headers[WARNINGS_HEADER] = warnings.join('; ');
      if (outcome.kind === 'json') {
        sendJson(response, 200, outcome.response, headers);
        return;
      }
      startSse(response, headers);
      try {
        for await (const frame of outcome.frames) await write(response, frame);
        response.end();
      } catch {
        // The client went away mid-stream: nothing more to send.
        if (!response.destroyed) response.destroy();
      }
    } catch (thrown) {
      const error = toGatewayError(thrown);
      // Failures before the model was called have no usage row yet (the gateway writes its own).
      if (!parsed || error instanceof RuntimeError) {
        await gateway.recordRejected({
          requestId: context.requestId,
          surface: 'openai-responses',
          principal,
          model,
          status: error.status,
          code: error.code,
          stream,
        });
      }
      sendResponsesError(response, error);
    }
  };

  const retrieve = async (context: HttpContext): Promise<void> => {
    try {
      const principal = await authenticate(gateway, context);
      const id = context.params['id']!;
      if (context.url.searchParams.get('stream') !== 'true') {
        sendJson(context.response, 200, await responses.retrieve(principal, id));
        return;
      }
      const raw = context.url.searchParams.get('starting_after');
      const startingAfter = raw === null ? undefined : Number(raw);
      if (startingAfter !== undefined && !Number.isInteger(startingAfter))
        throw invalidParam(
          `Invalid 'starting_after': expected an integer, got ${raw}.`,
          'starting_after',
        );
      const live = await responses.follow?.(principal, id, startingAfter, context.signal);
      if (live) {
        startSse(context.response);
        for await (const frame of live) await write(context.response, frame);
        context.response.end();
        return;
      }
      const frames = await responses.replay(principal, id, startingAfter);
      startSse(context.response);
      for (const frame of frames) await write(context.response, frame);
      context.response.end();
    } catch (error) {
      sendResponsesError(context.response, error);
    }
  };

  const compact = async (context: HttpContext): Promise<void> => {
    let principal: Principal | null = null;
    let model: string | null = null;
    try {
      principal = await authenticate(gateway, context);
      const body = await readJson(context);
      const params = parseCreateResponse(body);
      model = params.model;
      if (params.conversationId !== null)
        throw invalidParam(
          "'conversation' is not a parameter of /responses/compact; pass the conversation's items as input.",
          'conversation',
          'unknown_parameter',
        );
      sendJson(
        context.response,
        200,
        await responses.compact(
          {
            model: params.model,
            input: params.input,
            previousResponseId: params.previousResponseId,
            instructions: params.instructions,
          },
          callContext(context, principal),
        ),
      );
    } catch (thrown) {
      const error = toGatewayError(thrown);
      if (error instanceof RuntimeError || principal === null) {
        await gateway.recordRejected({
          requestId: context.requestId,
          surface: 'openai-responses',
          principal,
          model,
          status: error.status,
          code: error.code,
          stream: false,
        });
      }
      sendResponsesError(context.response, error);
    }
  };

  const inputTokens = jsonHandler(gateway, async (context, principal) => {
    const body = await readJson(context);
    if (!isRecord(body))
      throw invalidParam('Request body must be a JSON object.', null, 'invalid_type');
    const params = parseCreateResponse(merged(body, { input: parseInput(body['input']) }), {
      requireModel: false,
    });
    return responses.countInputTokens(params, callContext(context, principal));
  });

  const cancel = jsonHandler(gateway, async (context, principal) => {
    if (responses.cancel) return responses.cancel(principal, context.params['id']!);
    await responses.retrieve(principal, context.params['id']!);
    throw invalidParam('Only responses created with background=true can be cancelled.', null);
  });

  const routes: Route[] = [];
  for (const prefix of ['/v1', '']) {
    routes.push(
      { method: 'POST', path: `${prefix}/responses`, handler: create },
      { method: 'POST', path: `${prefix}/responses/compact`, handler: compact },
      { method: 'POST', path: `${prefix}/responses/input_tokens`, handler: inputTokens },
      { method: 'GET', path: `${prefix}/responses/:id`, handler: retrieve },
      {
        method: 'DELETE',
        path: `${prefix}/responses/:id`,
        handler: jsonHandler(gateway, (context, principal) =>
          responses.delete(principal, context.params['id']!),
        ),
      },
      {
        method: 'GET',
        path: `${prefix}/responses/:id/input_items`,
        handler: jsonHandler(gateway, (context, principal) =>
          responses.listInputItems(principal, context.params['id']!, listOptions(context.url)),
        ),
      },
      { method: 'POST', path: `${prefix}/responses/:id/cancel`, handler: cancel },
    );
  }
  return routes;
}

function callContext(context: HttpContext, principal: Principal): CallContext {
  return {
    principal,
    requestId: context.requestId,
    signal: context.signal,
    tags: tagsFrom(context.request.headers['x-switchyard-tags']),
    includeCost: includeCostAsked(context.request.headers),
  };
}
