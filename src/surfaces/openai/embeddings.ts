import type { Gateway } from '../../gateway/types.js';
import { toGatewayError } from '../../errors/index.js';
import { sendJson, sendOpenAIError } from '../../server/respond.js';
import type { HttpContext, Route } from '../../server/types.js';
import { credentialFrom } from '../shared/credentials.js';
import { routeHeaders } from '../../gateway/route-headers.js';
import { parseJsonBody, validateEmbeddingsRequest } from './validate.js';
import { merged } from '../../core/objects.js';

/** POST /v1/embeddings. */
export function createOpenAIEmbeddingsRoutes(deps: { gateway: Gateway }): Route[] {
  const { gateway } = deps;
  const handler = async (context: HttpContext) => {
    let principal = null;
    let model: string | null = null;
    let reached = false;
    try {
      principal = await gateway.authenticate(
        credentialFrom(context.request),
        context.remoteAddress,
      );
      const body = validateEmbeddingsRequest(parseJsonBody(await context.readBody()));
      model = body.model;
      reached = true;
      const outcome = await gateway.embeddings({
        requestId: context.requestId,
        surface: 'openai-embeddings',
        body,
        principal,
        signal: context.client,
      });
      sendJson(
        context.response,
        200,
        outcome.response,
        merged(outcome.headers, routeHeaders(outcome.meta)),
      );
    } catch (thrown) {
      const error = toGatewayError(thrown);
      if (!reached)
        await gateway.recordRejected({
          requestId: context.requestId,
          surface: 'openai-embeddings',
          principal,
          model,
          status: error.status,
          code: error.code,
          stream: false,
        });
      sendOpenAIError(context.response, error);
    }
  };
  return [
    { method: 'POST', path: '/v1/embeddings', handler },
    { method: 'POST', path: '/embeddings', handler },
  ];
}
