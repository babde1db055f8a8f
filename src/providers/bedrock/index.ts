import type { ChatCompletion, ChatRequest } from '../../core/chat.js';
import { GatewayError } from '../../errors/index.js';
import { first } from '../../transport/retry-after.js';
import { encodeModelId, signRequest } from '../../transport/sigv4.js';
import type { AdapterFactory, GatewayCall, ProviderAdapter, UpstreamRequest } from '../adapter.js';
import { classifyOpenAIError } from '../openai/errors.js';
import { passthroughStream } from '../openai/stream.js';
import { resolveBedrockAuth } from './credentials.js';
import { classifyBedrockError } from './errors.js';
import { buildOpenAIChatRequest } from './openai-api.js';
import { JSON_TOOL_NAME, toConverseRequest } from './request.js';
import { parseConverseResponse } from './response.js';
import { mapConverseStream } from './stream.js';
import { merged } from '../../core/objects.js';

/**
 * Adapter for Amazon Bedrock Runtime (../shared/protocols/bedrock.md).
 *
 * - Default (`api: 'converse'`): Converse `POST /model/{modelId}/converse` and ConverseStream
 *   `/converse-stream` (AWS event stream), translated to and from the internal representation.
 * - Deployments with `api: 'openai'`: Bedrock's OpenAI-compatible `/openai/v1/chat/completions`,
 *   bodies passed through, streams are OpenAI SSE (`streamFormatFor` answers `sse`).
 *
 * Endpoint `https://bedrock-runtime.{region}.amazonaws.com` unless `baseUrl` is set. Auth: Bedrock
 * API key as Bearer, else SigV4 (service `bedrock`) with config, env or default-chain credentials.
 *
 * Tool-call ids: Converse takes `toolUseId` of 1-64 `[a-zA-Z0-9_-]` (the OpenAI-compatible
 * endpoint: at most 40). Ids minted elsewhere that break the rule, such as Gemini's
 * signature-carrying ones, are sent as `call_` + 24 base62 characters of their SHA-256, on the
 * call and on its result alike, so they still pair (../internal/tool-call-ids.ts).
 */
export const bedrockAdapter: AdapterFactory = (id, providerConfig, deps) => {
  if (providerConfig.type !== 'bedrock')
    throw new Error(`bedrockAdapter cannot serve provider type ${providerConfig.type}`);
  const config = providerConfig;
  const base = (config.baseUrl ?? `https://bedrock-runtime.${config.region}.amazonaws.com`).replace(
    /\/+$/,
    '',
  );
  const auth = resolveBedrockAuth(config, deps.env, id);
  const isOpenAI = (call: GatewayCall): boolean => call.deployment.api === 'openai';
  const meta = (call: GatewayCall) => ({
    id: `chatcmpl-${call.requestId}`,
    model: call.deployment.model,
    created: Math.floor(deps.now() / 1000),
    provider: id,
    jsonTool: jsonToolOf(call.body as ChatRequest),
    stop: (call.body as ChatRequest).stop,
  });

  async function authorize(upstream: UpstreamRequest): Promise<UpstreamRequest> {
    if (auth.kind === 'bearer')
      return merged(upstream, {
        headers: merged(upstream.headers, { authorization: `Bearer ${auth.token}` }),
      });
    return signRequest(upstream, {
      region: config.region,
      credentials: auth.credentials,
      now: deps.now,
    });
  }

  const adapter: ProviderAdapter = {
    id,
    type: 'bedrock',
    openAIFamily: false,
    streamFormat: 'aws-eventstream',
    streamFormatFor: (call) => (isOpenAI(call) ? 'sse' : 'aws-eventstream'),
    async buildRequest(call) {
      if (call.operation !== 'chat') {
        throw new GatewayError(`Bedrock provider ${id} serves chat only`, {
          code: 'invalid_request',
          status: 400,
          errorClass: 'invalid_request',
          retryable: false,
          failover: true,
        });
      }
      let upstream: UpstreamRequest;
      if (isOpenAI(call)) upstream = buildOpenAIChatRequest(call, base);
      else {
        const { body } = toConverseRequest(call.body as ChatRequest, call.deployment.model);
        const operation = call.stream ? 'converse-stream' : 'converse';
        upstream = {
          method: 'POST',
          url: `${base}/model/${encodeModelId(call.deployment.model)}/${operation}`,
          headers: {
            'content-type': 'application/json',
            accept: call.stream ? 'application/vnd.amazon.eventstream' : 'application/json',
          },
          body: JSON.stringify(body),
        };
      }
      // Extra headers are signed too, so they go in before signing.
      upstream.headers = merged(
        upstream.headers,
        lower(config.headers),
        lower(call.propagateHeaders),
      );
      return authorize(upstream);
    },
    parseResponse(json, call): ChatCompletion {
      if (!isOpenAI(call)) return parseConverseResponse(json, meta(call));
      const completion = json as ChatCompletion;
      if (!completion || typeof completion !== 'object' || !Array.isArray(completion.choices)) {
        throw new GatewayError(
          `Upstream ${id} answered with something that is not a chat completion`,
          { code: 'upstream_bad_response', status: 502, errorClass: 'bad_response' },
        );
      }
      return completion;
    },
    mapStream(frames, call) {
      return isOpenAI(call) ? passthroughStream(frames, id) : mapConverseStream(frames, meta(call));
    },
    classifyError(response, call) {
      // Bedrock's OpenAI endpoint may answer in OpenAI's error shape; Converse never does.
      if (
        isOpenAI(call) &&
        first(response.headers['x-amzn-errortype']) === undefined &&
        response.body.includes('"error"')
      ) {
        return classifyOpenAIError(response, id);
      }
      return classifyBedrockError(response, id);
    },
  };
  return adapter;
};

/** The forced structured-output tool name, when the request asks for that mode. */
function jsonToolOf(body: ChatRequest): string | undefined {
  const structured = body.provider_options?.['bedrock']?.['structuredOutput'];
  return body.response_format?.type === 'json_schema' && structured === 'tool'
    ? JSON_TOOL_NAME
    : undefined;
}

function lower(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}
