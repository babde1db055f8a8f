import type { ChatRequest, EmbeddingsRequest } from '../../core/chat.js';
import type { ProviderConfig } from '../../config/index.js';
import type { GatewayCall, UpstreamRequest } from '../adapter.js';
import { fitToolCallIds, OPENAI_TOOL_CALL_IDS } from '../internal/tool-call-ids.js';
import { toOpenAIShape } from './allow-list.js';
import { copied, merged } from '../../core/objects.js';

type OpenAIFamilyConfig = Extract<
  ProviderConfig,
  { type: 'openai' | 'azure-openai' | 'openai-compatible' }
>;

/** Fields only Switchyard reads; never forwarded upstream. */
const GATEWAY_FIELDS = ['provider_options', 'models', 'fallback_models'] as const;

/**
 * Whether a chat body is forwarded as the client sent it: only when the client spoke OpenAI
 * chat itself (or the call came from inside the process with no surface, as in unit tests).
 */
export function sameProtocol(call: GatewayCall): boolean {
  return call.surface === undefined || call.surface === 'openai-chat';
}

/**
 * Builds the upstream request for an OpenAI-shaped upstream. An OpenAI chat client's body is
 * forwarded with targeted edits only (model or deployment name, `stream_options.include_usage`
 * so usage can be metered, gateway-only fields stripped, tool-call ids over OpenAI's 40
 * characters, such as Gemini's signature-carrying ones, shortened: see
 * ../internal/tool-call-ids.ts); its unknown fields pass through untouched. A body translated
 * from another protocol keeps only members of OpenAI's published request (./allow-list.ts) and
 * says `max_completion_tokens`, which reasoning models require, to OpenAI and Azure.
 */
export function buildOpenAIRequest(call: GatewayCall, config: OpenAIFamilyConfig): UpstreamRequest {
  const operation = call.operation === 'chat' ? 'chat/completions' : 'embeddings';
  const source = call.body as ChatRequest | EmbeddingsRequest;
  const body: Record<string, unknown> =
    call.operation === 'chat' && !sameProtocol(call)
      ? toOpenAIShape(source as ChatRequest, {
          azure: config.type === 'azure-openai',
          maxCompletionTokens: config.type !== 'openai-compatible',
        })
      : copied(source);
  for (const field of GATEWAY_FIELDS) delete body[field];
  const extra = (call.body as ChatRequest).provider_options?.[config.type];
  if (extra) Object.assign(body, extra);
  body['model'] = call.deployment.model;
  if (call.operation === 'chat' && Array.isArray(body['messages']))
    body['messages'] = fitToolCallIds(
      body['messages'] as ChatRequest['messages'],
      OPENAI_TOOL_CALL_IDS,
    );
  if (call.operation === 'chat' && call.stream) {
    const options = body['stream_options'];
    body['stream_options'] = merged(options && typeof options === 'object' ? options : {}, {
      include_usage: true,
    });
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: call.stream ? 'text/event-stream' : 'application/json',
    ...config.headers,
    ...call.propagateHeaders,
  };
  return {
    method: 'POST',
    url: upstreamUrl(config, call.deployment.model, operation),
    headers: authHeaders(config, headers),
    body: JSON.stringify(body),
  };
}

/** The URL of an operation on an OpenAI-family upstream. */
export function upstreamUrl(config: OpenAIFamilyConfig, model: string, operation: string): string {
  if (config.type === 'azure-openai') {
    const base = trimSlash(config.baseUrl ?? 'https://localhost');
    if (config.apiVersion === undefined) return `${base}/openai/v1/${operation}`;
    return `${base}/openai/deployments/${encodeURIComponent(model)}/${operation}?api-version=${encodeURIComponent(config.apiVersion)}`;
  }
  const base = trimSlash(config.baseUrl ?? 'https://api.openai.com/v1');
  return `${base}/${operation}`;
}

function authHeaders(
  config: OpenAIFamilyConfig,
  headers: Record<string, string>,
): Record<string, string> {
  if (config.type === 'azure-openai') {
    if (config.bearerToken) headers['authorization'] = `Bearer ${config.bearerToken}`;
    else if (config.apiKey) headers['api-key'] = config.apiKey;
    return headers;
  }
  if (config.apiKey) headers['authorization'] = `Bearer ${config.apiKey}`;
  if (config.type === 'openai' && config.organization)
    headers['openai-organization'] = config.organization;
  return headers;
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}
