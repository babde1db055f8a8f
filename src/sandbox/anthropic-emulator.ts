import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { randomId } from '../core/ids.js';
import { buildMessage, streamMessage } from './anthropic-answer.js';
import { AnthropicHttpError, invalid, parseRequest } from './anthropic-request.js';
import { BodyTooLargeError, listen, readBody, sendJson } from './http.js';
import { emulate } from './model.js';
import type { Emulator } from './openai-emulator.js';

export { thinkingSignature } from './anthropic-request.js';

/** One request the emulator received. */
export interface EmulatorRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined when it was not JSON). */
  body: unknown;
}

/** A running emulated Anthropic endpoint: the shared Emulator shape plus the parsed requests. */
export interface AnthropicEmulator extends Emulator {
  flavor: 'anthropic';
  /** Every request received, in order, including rejected ones. */
  received: EmulatorRequest[];
}

/** Options for {@link startAnthropicEmulator}. */
export interface AnthropicEmulatorOptions {
  /** Key required in `x-api-key` or `Authorization: Bearer`; omit to accept any (or none). */
  apiKey?: string;
  /** Delay between streamed deltas, ms. Default 0. */
  tokenDelayMs?: number;
  /** Context window in tokens: longer prompts get "prompt is too long". Default 200000. */
  contextWindow?: number;
}

/**
 * Starts a loopback server that speaks the Anthropic Messages API (`POST /v1/messages`, with
 * and without `stream`, and `POST /v1/messages/count_tokens`) over the shared emulated model
 * (./model.ts). It checks `x-api-key` (or a bearer token) and `anthropic-version`, answers
 * errors in Anthropic's shape, returns 529 `overloaded_error` while down, streams every event
 * type (message_start, ping, content_block_start/delta/stop with text_delta, input_json_delta
 * in pieces, thinking_delta and signature_delta, message_delta, message_stop), and verifies the
 * signature of thinking blocks sent back to it.
 *
 * @example
 * const emulator = await startAnthropicEmulator({ apiKey: 'sk-ant-test' });
 * // POST `${emulator.url}/v1/messages` …
 * await emulator.close();
 */
export async function startAnthropicEmulator(
  options: AnthropicEmulatorOptions = {},
): Promise<AnthropicEmulator> {
  let down = false;
  let tokenDelay = options.tokenDelayMs ?? 0;
  const received: EmulatorRequest[] = [];
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const requestId = randomId('req_');
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    try {
      const text = await readBody(request);
      const body = parseJson(text);
      emulator.requests += 1;
      received.push({ method: request.method ?? 'GET', path, headers: request.headers, body });
      if (
        request.method !== 'POST' ||
        (path !== '/v1/messages' && path !== '/v1/messages/count_tokens')
      ) {
        throw new AnthropicHttpError(404, 'not_found_error', `${request.method} ${path} not found`);
      }
      checkAuth(request.headers, options.apiKey);
      if (down) throw new AnthropicHttpError(529, 'overloaded_error', 'Overloaded');
      if (body === undefined) throw invalid('There was an error parsing the body of your request');
      const version = header(request.headers, 'anthropic-version');
      if (version === undefined) throw invalid('anthropic-version: header is required');
      const counting = path.endsWith('/count_tokens');
      const { input, params } = parseRequest(body, version, counting);
      if (counting) {
        sendJson(
          response,
          200,
          { input_tokens: emulate(input).usage.inputTokens },
          { 'request-id': requestId },
        );
        return;
      }
      const output = emulate(input, { modelName: params.model });
      const limit = options.contextWindow ?? 200_000;
      if (output.usage.inputTokens > limit)
        throw invalid(`prompt is too long: ${output.usage.inputTokens} tokens > ${limit} maximum`);
      const message = buildMessage(params, input, output);
      if (params.stream) await streamMessage(response, message, requestId, () => tokenDelay);
      else sendJson(response, 200, message, { 'request-id': requestId });
    } catch (error) {
      const known =
        error instanceof AnthropicHttpError
          ? error
          : error instanceof BodyTooLargeError
            ? new AnthropicHttpError(
                413,
                'request_too_large',
                'Request exceeds the maximum allowed number of bytes.',
              )
            : new AnthropicHttpError(500, 'api_error', 'Internal server error');
      if (response.headersSent) return void response.destroy();
      const headers: Record<string, string> = { 'request-id': requestId };
      if (known.status === 529 || known.status === 429) headers['retry-after'] = '1';
      sendJson(
        response,
        known.status,
        {
          type: 'error',
          error: { type: known.type, message: known.message },
          request_id: requestId,
        },
        headers,
      );
    }
  };
  const server = await listen((request, response) => void handle(request, response));
  const emulator: AnthropicEmulator = {
    url: server.url,
    port: server.port,
    flavor: 'anthropic',
    setDown: (value) => void (down = value),
    isDown: () => down,
    setTokenDelay: (ms) => void (tokenDelay = ms),
    requests: 0,
    received,
    close: () => server.close(),
  };
  return emulator;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function checkAuth(headers: IncomingHttpHeaders, apiKey: string | undefined): void {
  if (apiKey === undefined) return;
  const bearer = /^Bearer\s+(.+)$/i.exec(header(headers, 'authorization') ?? '')?.[1];
  const given = header(headers, 'x-api-key') ?? bearer;
  if (given !== apiKey)
    throw new AnthropicHttpError(401, 'authentication_error', 'invalid x-api-key');
}
