import type { ServerResponse } from 'node:http';
import { type GatewayError, toGatewayError } from '../../errors/index.js';
import type { Gateway, Principal } from '../../gateway/types.js';
import type { StreamItem } from '../../providers/adapter.js';
import { noteFailure, sendJson, startSse, write } from '../../server/respond.js';
import type { HttpContext, Route } from '../../server/types.js';
import { credentialFrom } from '../shared/credentials.js';
import { routeHeaders } from '../../gateway/route-headers.js';
import { includeCostAsked } from '../shared/cost.js';
import { estimateInputTokens } from './count-tokens.js';
import { parseJson, toChatRequest } from './parse.js';
import {
  anthropicErrorHeaders,
  anthropicErrorOf,
  renderAnthropicError,
  toAnthropicMessage,
} from './render.js';
import { createAnthropicStreamRenderer, sseError, sseEvent } from './stream.js';
import { merged } from '../../core/objects.js';

/** How often an idle stream gets a `ping` event, ms (keeps proxies from closing quiet connections). */
const PING_INTERVAL_MS = 10_000;

/**
 * The Anthropic Messages surface: `POST /v1/messages` (JSON or SSE) and
 * `POST /v1/messages/count_tokens`. Accepts `x-api-key` or `Authorization: Bearer` (SDK ≥ 1.0),
 * maps the body to the internal ChatRequest, calls the gateway and renders the answer in
 * Anthropic's format. Errors use Anthropic's shape (`{"type":"error","error":{…},"request_id"}`);
 * once a stream has started, an `event: error` is written and the connection closed.
 */
export function createAnthropicMessagesRoutes(deps: { gateway: Gateway }): Route[] {
  const { gateway } = deps;
  const messages = async (context: HttpContext): Promise<void> => {
    const { request, response, requestId } = context;
    response.setHeader('request-id', requestId);
    let principal: Principal | null = null;
    let model: string | null = null;
    let stream = false;
    let reached = false;
    try {
      principal = await gateway.authenticate(credentialFrom(request), context.remoteAddress);
      const raw = parseJson(await context.readBody());
      const body = toChatRequest(raw);
      model = body.model;
      stream = body.stream === true;
      reached = true;
      const outcome = await gateway.chat({
        requestId,
        surface: 'anthropic-messages',
        body,
        principal,
        signal: context.client,
        tags: tagsFrom(request.headers['x-switchyard-tags']),
        includeCost: includeCostAsked(request.headers),
      });
      const headers = merged(outcome.headers, routeHeaders(outcome.meta));
      if (outcome.kind === 'json') {
        sendJson(response, 200, toAnthropicMessage(outcome.completion, body.model), headers);
        return;
      }
      await writeStream(response, outcome.items, body.model, headers, () =>
        estimateInputTokens(body),
      );
    } catch (thrown) {
      const error = toGatewayError(thrown);
      if (!reached) {
        await gateway.recordRejected({
          requestId,
          surface: 'anthropic-messages',
          principal,
          model,
          status: anthropicErrorOf(error).status,
          code: error.code,
          stream,
        });
      }
      sendError(response, error, requestId);
    }
  };

  const countTokensHandler = async (context: HttpContext): Promise<void> => {
    const { request, response, requestId } = context;
    response.setHeader('request-id', requestId);
    try {
      await gateway.authenticate(credentialFrom(request), context.remoteAddress);
      const raw = parseJson(await context.readBody());
      // count_tokens takes no max_tokens; validate the rest with a placeholder.
      const body = toChatRequest(
        raw !== null && typeof raw === 'object' ? { max_tokens: 1, ...raw } : raw,
      );
      sendJson(response, 200, { input_tokens: estimateInputTokens(body) });
    } catch (thrown) {
      sendError(response, toGatewayError(thrown), requestId);
    }
  };

  return [
    { method: 'POST', path: '/v1/messages', handler: messages },
    { method: 'POST', path: '/v1/messages/count_tokens', handler: countTokensHandler },
  ];
}

/**
 * Streams the items as Anthropic events. The first item is awaited before any byte goes out,
 * so a failure that happens before the answer starts is still a plain HTTP error with its status.
 */
async function writeStream(
  response: ServerResponse,
  items: AsyncIterable<StreamItem>,
  model: string,
  headers: Record<string, string>,
  estimate: () => number,
): Promise<void> {
  const iterator = items[Symbol.asyncIterator]();
  const first = await iterator.next();
  const renderer = createAnthropicStreamRenderer({ model, estimateInputTokens: estimate });
  startSse(response, headers);
  const ping = setInterval(() => {
    if (!response.destroyed && !response.writableEnded) response.write(sseEvent({ type: 'ping' }));
  }, PING_INTERVAL_MS);
  ping.unref();
  try {
    await write(response, renderer.start(first.done ? undefined : first.value.chunk()));
    if (!first.done) await emit(response, renderer.push(first.value.chunk()));
    for (let item = await iterator.next(); !item.done; item = await iterator.next()) {
      await emit(response, renderer.push(item.value.chunk()));
    }
    await write(response, renderer.end());
    response.end();
  } catch (thrown) {
    // After the first byte: an error event, then close; no message_stop, so clients see it as incomplete.
    if (!response.destroyed) response.end(sseError(toGatewayError(thrown)));
    await iterator.return?.();
  } finally {
    clearInterval(ping);
  }
}

async function emit(response: ServerResponse, text: string): Promise<void> {
  if (text !== '') await write(response, text);
}

function sendError(response: ServerResponse, error: GatewayError, requestId: string): void {
  noteFailure(response, error);
  if (response.headersSent) {
    if (!response.writableEnded) response.end(sseError(error));
    return;
  }
  sendJson(
    response,
    anthropicErrorOf(error).status,
    renderAnthropicError(error, requestId),
    anthropicErrorHeaders(error, requestId),
  );
}

/** `x-switchyard-tags: a,b` → ['a','b']. */
function tagsFrom(header: string | string[] | undefined): string[] | undefined {
  if (header === undefined) return undefined;
  const tags = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((tag) => tag.trim())
    .filter(Boolean);
  return tags.length > 0 ? tags : undefined;
}
