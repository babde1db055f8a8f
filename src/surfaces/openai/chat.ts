import type { Gateway } from '../../gateway/types.js';
import { renderOpenAIError, toGatewayError } from '../../errors/index.js';
import {
  coalescingWriter,
  flush,
  sendJson,
  sendOpenAIError,
  startSse,
  write,
} from '../../server/respond.js';
import type { HttpContext, Route } from '../../server/types.js';
import { credentialFrom } from '../shared/credentials.js';
import { routeHeaders } from '../../gateway/route-headers.js';
import { includeCostAsked } from '../shared/cost.js';
import { parseJsonBody, validateChatRequest } from './validate.js';
import { merged } from '../../core/objects.js';

/**
 * POST /v1/chat/completions: the OpenAI Chat Completions surface. Streams are written as they
 * arrive; from an OpenAI-family upstream each read's events come as the upstream's own bytes
 * (one item per read), from others one chunk per event, rendered here.
 */
export function createOpenAIChatRoutes(deps: { gateway: Gateway }): Route[] {
  const { gateway } = deps;
  const handler = async (context: HttpContext): Promise<void> => {
    const { request, response } = context;
    let principal = null;
    let model: string | null = null;
    let stream = false;
    let reached = false;
    try {
      principal = await gateway.authenticate(credentialFrom(request), context.remoteAddress);
      const body = validateChatRequest(parseJsonBody(await context.readBody()));
      model = body.model;
      stream = body.stream === true;
      // Asking for the cost (header, or OpenRouter's `usage: {include: true}`) asks for the usage
      // chunk that carries it.
      const includeCost = includeCostAsked(request.headers);
      const includeUsage =
        includeCost ||
        principal.includeCost === true ||
        body.stream_options?.include_usage === true ||
        (body['usage'] as { include?: unknown } | undefined)?.include === true;
      reached = true;
      const outcome = await gateway.chat({
        requestId: context.requestId,
        surface: 'openai-chat',
        body,
        principal,
        signal: context.client,
        tags: tagsFrom(request.headers['x-switchyard-tags']),
        includeCost,
      });
      const headers = merged(outcome.headers, routeHeaders(outcome.meta));
      if (outcome.kind === 'json') {
        sendJson(response, 200, outcome.rawBody ?? outcome.completion, headers);
        return;
      }
      // The gateway hands the stream back once its first item is in hand (failover stays possible
      // until then), so the headers can travel with that first event.
      startSse(response, headers, { flush: false });
      // After the first event, the events of one upstream read leave in one socket write.
      const out = coalescingWriter(response);
      try {
        let first = true;
        for await (const item of outcome.items) {
          if (item.usageOnly && !includeUsage) continue;
          // A relayed read (OpenAI-family upstream): its events leave as the upstream's bytes.
          const text = item.framed ?? `data: ${item.raw ?? JSON.stringify(item.chunk())}\n\n`;
          if (first) {
            // Headers and first event leave now, not after the rest of a burst and the usage commit.
            await write(response, text);
            flush(response);
            first = false;
            continue;
          }
          const blocked = out.push(text);
          if (blocked !== undefined) await blocked;
        }
        out.end('data: [DONE]\n\n');
      } catch (thrown) {
        // After the first byte: an error event, then close. No [DONE], so clients see it as incomplete.
        out.end(`data: ${JSON.stringify(renderOpenAIError(toGatewayError(thrown)))}\n\n`);
      }
    } catch (thrown) {
      const error = toGatewayError(thrown);
      if (!reached)
        await gateway.recordRejected({
          requestId: context.requestId,
          surface: 'openai-chat',
          principal,
          model,
          status: error.status,
          code: error.code,
          stream,
        });
      sendOpenAIError(response, error);
    }
  };
  return [
    { method: 'POST', path: '/v1/chat/completions', handler },
    { method: 'POST', path: '/chat/completions', handler },
  ];
}

/** `x-switchyard-tags: a,b` → ['a','b']. */
export function tagsFrom(header: string | string[] | undefined): string[] | undefined {
  if (header === undefined) return undefined;
  const joined = Array.isArray(header) ? header.join(',') : header;
  const tags = joined
    .split(',')
    .map((tag) => tag.trim())
    .filter(Boolean);
  return tags.length > 0 ? tags : undefined;
}
