import type { ChatRequest } from '../../core/chat.js';
import { invalidRequest } from '../../errors/index.js';
import type { AdapterFactory, ProviderAdapter } from '../adapter.js';
import { classifyAnthropicError } from './errors.js';
import { toAnthropicRequest } from './request.js';
import { fromAnthropicMessage } from './response.js';
import { mapAnthropicStream } from './stream.js';
import { merged } from '../../core/objects.js';

/** Default API origin. */
const DEFAULT_BASE_URL = 'https://api.anthropic.com';
/** Default `anthropic-version` when the config gives none. */
const DEFAULT_VERSION = '2023-06-01';

/**
 * Adapter for the Anthropic Messages API (`POST {baseUrl}/v1/messages`). Translates the internal
 * Chat Completions representation to Messages and back (see request.ts, response.ts, stream.ts,
 * errors.ts). Auth is `x-api-key`; `anthropic-version` comes from `config.version`
 * (default 2023-06-01); `config.headers` (e.g. `anthropic-beta`) are added to every request.
 *
 * Tool-call ids from other providers that break Anthropic's `^[a-zA-Z0-9_-]+$` are sent as
 * `call_` + 24 base62 characters of their SHA-256, on `tool_use` and `tool_result` alike, so the
 * pair still matches (../internal/tool-call-ids.ts).
 *
 * @example
 * const adapter = anthropicAdapter('anthropic', { type: 'anthropic', apiKey: 'sk-ant-…', version: '2023-06-01', sandbox: false }, { env: {}, now: Date.now });
 */
export const anthropicAdapter: AdapterFactory = (id, config, deps): ProviderAdapter => {
  if (config.type !== 'anthropic')
    throw new Error(`anthropicAdapter: provider ${id} has type ${config.type}`);
  const version = config.version ?? DEFAULT_VERSION;
  const url = `${(config.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '')}/v1/messages`;
  const seconds = () => Math.floor(deps.now() / 1000);
  return {
    id,
    type: 'anthropic',
    openAIFamily: false,
    streamFormat: 'sse',
    async buildRequest(call) {
      if (call.operation !== 'chat') {
        throw invalidRequest(
          'Anthropic models do not serve embeddings',
          'model',
          'unsupported_parameter',
        );
      }
      const body = toAnthropicRequest(call.body as ChatRequest, {
        model: call.deployment.model,
        stream: call.stream,
        version,
      });
      const headers: Record<string, string> = merged(config.headers, call.propagateHeaders, {
        'content-type': 'application/json',
        accept: call.stream ? 'text/event-stream' : 'application/json',
        'anthropic-version': version,
      });
      if (config.apiKey !== undefined) headers['x-api-key'] = config.apiKey;
      return { method: 'POST', url, headers, body: JSON.stringify(body) };
    },
    parseResponse(json) {
      return fromAnthropicMessage(json, seconds());
    },
    mapStream(frames, call) {
      return mapAnthropicStream(frames, {
        provider: id,
        created: seconds(),
        model: call.deployment.model,
      });
    },
    classifyError(response) {
      return classifyAnthropicError(response, id, deps.now);
    },
  };
};

export type * from './types.js';
