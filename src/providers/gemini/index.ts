import type { ChatRequest } from '../../core/chat.js';
import { invalidRequest } from '../../errors/index.js';
import type { AdapterFactory, ProviderAdapter } from '../adapter.js';
import { resolveEndpoint } from './endpoint.js';
import { classifyGeminiError } from './errors.js';
import { toGenerateContent } from './request.js';
import { toChatCompletion } from './response.js';
import type { ResponseContext } from './response.js';
import { mapGeminiStream } from './stream.js';
import { merged } from '../../core/objects.js';

/**
 * Adapter for Google's `generateContent` API, on the Gemini Developer API (`gemini`: API key)
 * and on Vertex AI (`vertex`: project, location, OAuth access token). Chat only; embeddings
 * calls are rejected with `unsupported_parameter`.
 *
 * Thought signatures (Gemini 3 rejects a follow-up turn whose function calls lack them) travel
 * inside the OpenAI tool call id (`call_sig_…`), so clients that echo only `id`, `type` and
 * `function` keep them; signatures on text parts travel in `reasoning_signature` as `gemini:…`.
 * See signatures.ts and ../shared/protocols/gemini-vertex.md.
 * @example
 * const adapter = geminiAdapter('gemini', { type: 'gemini', apiKey: 'AIza…', sandbox: false }, { env: {}, now: Date.now });
 * const upstream = await adapter.buildRequest(call); // POST …/v1beta/models/gemini-2.5-flash:generateContent
 */
export const geminiAdapter: AdapterFactory = (id, config, deps) => {
  if (config.type !== 'gemini' && config.type !== 'vertex') {
    throw new Error(`geminiAdapter cannot serve provider type ${config.type}`);
  }
  const endpoint = resolveEndpoint(id, config, deps.env);
  const providerType = config.type;
  const context = (call: {
    requestId: string;
    deployment: { model: string };
  }): ResponseContext => ({
    provider: id,
    requestId: call.requestId,
    model: call.deployment.model,
    created: Math.floor(deps.now() / 1000),
  });

  const adapter: ProviderAdapter = {
    id,
    type: providerType,
    openAIFamily: false,
    streamFormat: 'sse',
    async buildRequest(call) {
      if (call.operation !== 'chat') {
        throw invalidRequest(
          `Provider ${id} (${providerType}) serves chat only`,
          'model',
          'unsupported_parameter',
        );
      }
      const model = call.deployment.model;
      const body = toGenerateContent(call.body as ChatRequest, { providerType, model });
      return {
        method: 'POST',
        url: endpoint.url(model, call.stream),
        headers: merged(call.propagateHeaders, endpoint.headers, {
          'content-type': 'application/json',
          accept: call.stream ? 'text/event-stream' : 'application/json',
        }),
        body: JSON.stringify(body),
      };
    },
    parseResponse(json, call) {
      return toChatCompletion(json, context(call));
    },
    mapStream(frames, call) {
      return mapGeminiStream(frames, context(call));
    },
    classifyError(response) {
      return classifyGeminiError(response, id, deps.now);
    },
  };
  return adapter;
};
