import type { ChatCompletion, EmbeddingsResponse } from '../../core/chat.js';
import { GatewayError } from '../../errors/index.js';
import type { AdapterFactory, ProviderAdapter } from '../adapter.js';
import { classifyOpenAIError } from './errors.js';
import { buildOpenAIRequest } from './request.js';
import { passthroughStream } from './stream.js';

/**
 * Adapter for OpenAI, Azure OpenAI (classic deployment URLs with api-version, and v1) and any
 * OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio). Same-family fast path:
 * bodies forwarded with targeted edits, streams forwarded event by event.
 *
 * Tool-call ids: OpenAI rejects ids over 40 characters, and a conversation begun on Gemini
 * carries ids of a few hundred (they hold thought signatures). Such ids, on assistant
 * `tool_calls` and on the `tool` messages answering them alike, are sent as `call_` + 24 base62
 * characters of their SHA-256, so they still pair (../internal/tool-call-ids.ts). Ids that fit
 * are forwarded untouched, and their messages are not copied.
 */
export const openAIAdapter: AdapterFactory = (id, config) => {
  if (
    config.type !== 'openai' &&
    config.type !== 'azure-openai' &&
    config.type !== 'openai-compatible'
  ) {
    throw new Error(`openAIAdapter cannot serve provider type ${config.type}`);
  }
  const adapter: ProviderAdapter = {
    id,
    type: config.type,
    openAIFamily: true,
    streamFormat: 'sse',
    async buildRequest(call) {
      return buildOpenAIRequest(call, config);
    },
    parseResponse(json) {
      const completion = json as ChatCompletion;
      if (!completion || typeof completion !== 'object' || !Array.isArray(completion.choices)) {
        throw new GatewayError(
          `Upstream ${id} answered with something that is not a chat completion`,
          { code: 'upstream_bad_response', status: 502, errorClass: 'bad_response' },
        );
      }
      return completion;
    },
    mapStream(frames) {
      return passthroughStream(frames, id);
    },
    classifyError(response) {
      return classifyOpenAIError(response, id);
    },
    parseEmbeddings(json) {
      const response = json as EmbeddingsResponse;
      if (!response || typeof response !== 'object' || !Array.isArray(response.data)) {
        throw new GatewayError(
          `Upstream ${id} answered with something that is not an embeddings list`,
          { code: 'upstream_bad_response', status: 502, errorClass: 'bad_response' },
        );
      }
      return response;
    },
  };
  return adapter;
};
