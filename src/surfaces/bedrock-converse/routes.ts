import { GatewayError, toGatewayError } from '../../errors/index.js';
import type { Gateway, Principal } from '../../gateway/types.js';
import type { HttpContext, Route } from '../../server/types.js';
import { verifySigV4 } from '../../transport/sigv4.js';
import { routeHeaders } from '../../gateway/route-headers.js';
import { includeCostAsked } from '../shared/cost.js';
import { BedrockAuthError, sendBedrockError, sendGatewayErrorAsBedrock } from './errors.js';
import { converseToChat } from './request.js';
import { converseResponseOf } from './response.js';
import { writeConverseStream } from './stream.js';
import { merged } from '../../core/objects.js';

/**
 * The Bedrock Converse surface: `POST /model/{modelId}/converse` and `/converse-stream`, as
 * the AWS SDK's BedrockRuntimeClient calls them (endpoint = Switchyard's URL). `modelId` is a
 * Switchyard model name.
 *
 * Auth: SigV4 (service `bedrock`, any region) where the access key id is the Switchyard key id
 * (`master` for the master key) and the secret access key is the API key itself, verified
 * against `gateway.resolveSigV4Secret`; or `Authorization: Bearer <api key>` (the SDK's Bedrock
 * API-key mode). Errors use Bedrock's shape and statuses (see ./errors.ts).
 */
export function createBedrockConverseRoutes(deps: { gateway: Gateway }): Route[] {
  const { gateway } = deps;

  const handler =
    (stream: boolean) =>
    async (context: HttpContext): Promise<void> => {
      const { request, response, requestId } = context;
      const startedAt = Date.now();
      const model = context.params['modelId'] ?? '';
      let principal: Principal | null = null;
      let reached = false;
      const baseHeaders = { 'x-amzn-requestid': requestId };
      try {
        const raw = await context.readBody();
        principal = await authenticate(gateway, context, raw);
        const body = converseToChat(parseJson(raw), model, stream);
        reached = true;
        const outcome = await gateway.chat({
          requestId,
          surface: 'bedrock-converse',
          body,
          principal,
          signal: context.client,
          tags: tagsFrom(request.headers['x-switchyard-tags']),
          includeCost: includeCostAsked(request.headers),
        });
        const headers = merged(baseHeaders, outcome.headers, routeHeaders(outcome.meta));
        if (outcome.kind === 'stream') {
          await writeConverseStream(outcome.items, response, { headers, startedAt, requestId });
          return;
        }
        const text = JSON.stringify(converseResponseOf(outcome.completion, Date.now() - startedAt));
        response.writeHead(
          200,
          merged(headers, {
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(text)),
          }),
        );
        response.end(text);
      } catch (thrown) {
        if (thrown instanceof BedrockAuthError) {
          if (!reached)
            await gateway.recordRejected({
              requestId,
              surface: 'bedrock-converse',
              principal,
              model,
              status: 403,
              code: 'unauthorized',
              stream,
            });
          sendBedrockError(response, 403, thrown.type, thrown.message, baseHeaders);
          return;
        }
        const error = toGatewayError(thrown);
        if (!reached)
          await gateway.recordRejected({
            requestId,
            surface: 'bedrock-converse',
            principal,
            model,
            status: error.status,
            code: error.code,
            stream,
          });
        sendGatewayErrorAsBedrock(response, error, baseHeaders);
      }
    };

  return [
    { method: 'POST', path: '/model/:modelId/converse', handler: handler(false) },
    { method: 'POST', path: '/model/:modelId/converse-stream', handler: handler(true) },
  ];
}

/** SigV4 when the Authorization header says so; else a bearer key (or none) through gateway.authenticate. */
async function authenticate(
  gateway: Gateway,
  context: HttpContext,
  body: Buffer,
): Promise<Principal> {
  const { request } = context;
  const authorization = request.headers.authorization ?? '';
  if (/^Bearer\s+/i.test(authorization)) {
    return gateway.authenticate(
      { kind: 'bearer', token: authorization.replace(/^Bearer\s+/i, '').trim() },
      context.remoteAddress,
    );
  }
  if (!authorization) {
    try {
      return await gateway.authenticate({ kind: 'none' }, context.remoteAddress);
    } catch {
      throw new BedrockAuthError(
        'MissingAuthenticationTokenException',
        'Missing Authentication Token',
      );
    }
  }
  let principal: Principal | undefined;
  // The raw path as the client signed it (percent-encoding intact); HTTP/2 puts it in :path.
  const target = request.url ?? context.url.pathname;
  const queryAt = target.indexOf('?');
  const result = await verifySigV4(
    {
      method: request.method ?? 'POST',
      path: queryAt === -1 ? target : target.slice(0, queryAt),
      query: queryAt === -1 ? '' : target.slice(queryAt + 1),
      headers: request.headers,
      body,
    },
    async (accessKeyId) => {
      const found = await gateway.resolveSigV4Secret(accessKeyId);
      principal = found?.principal;
      return found?.secret;
    },
  );
  if (result.ok && principal) return principal;
  if (result.ok)
    throw new BedrockAuthError(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  if (result.reason === 'unknown_key')
    throw new BedrockAuthError('UnrecognizedClientException', result.message);
  if (result.reason === 'missing')
    throw new BedrockAuthError('MissingAuthenticationTokenException', result.message);
  throw new BedrockAuthError(
    result.reason === 'malformed' ? 'IncompleteSignatureException' : 'InvalidSignatureException',
    result.message,
  );
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw new GatewayError('Malformed input request, please reformat your input and try again.', {
      code: 'invalid_json',
      status: 400,
      retryable: false,
      failover: false,
    });
  }
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
