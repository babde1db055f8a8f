import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { build } from './gemini-answer.js';
import { GoogleHttpError, invalid, rateLimited } from './gemini-errors.js';
import { toInput } from './gemini-request.js';
import { checkAuth, parseRoute } from './gemini-routes.js';
import { stableJson } from './gemini-signature.js';
import { listen, readBody, sendJson, writeWithBackpressure } from './http.js';
import { emulate } from './model.js';
import type { Emulator } from './openai-emulator.js';

/** One request the emulator received. */
export interface GeminiEmulatorRequest {
  method: string;
  /** Path and query, e.g. `/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse`. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined when it was not JSON). */
  body: unknown;
}

/** A running emulated Gemini API or Vertex AI endpoint. */
export interface GeminiEmulator extends Emulator {
  flavor: 'gemini' | 'vertex';
  /** Every request received, in order, including rejected ones. */
  received: GeminiEmulatorRequest[];
  /** While set, requests get 429 RESOURCE_EXHAUSTED with `RetryInfo.retryDelay` (and a per-day QuotaFailure when `perDay`). */
  setRateLimited(limit: { retryDelay: string; perDay?: boolean } | null): void;
}

/** Options for {@link startGeminiEmulator}. */
export interface GeminiEmulatorOptions {
  /** Gemini: key required in `x-goog-api-key` or `?key=`. Vertex: token required as `Authorization: Bearer`. Default: any. */
  apiKey?: string;
  /** Default `gemini`. */
  flavor?: 'gemini' | 'vertex';
  /** Delay between streamed chunks, ms. Default 0. */
  tokenDelayMs?: number;
  /** Input-token limit; longer prompts get 400 "The input token count (N) exceeds…". Default 1048576. */
  contextWindow?: number;
}

/**
 * Starts a loopback server speaking Google's `generateContent` wire format over the shared
 * emulated model (./model.ts):
 * - Gemini: `POST /v1beta/models/{model}:generateContent | :streamGenerateContent[?alt=sse] | :countTokens`,
 *   key in `x-goog-api-key` or `?key=`; Vertex: `POST /v1[beta1]/projects/{p}/locations/{l}/publishers/google/models/{model}:…`,
 *   `Authorization: Bearer`.
 * - With `alt=sse` each event is `data: <GenerateContentResponse>`; without it the stream is one JSON array.
 * - The first `functionCall` part of an answer carries a `thoughtSignature` (an HMAC over model, name and
 *   arguments with a per-emulator secret). For Gemini 3+ models (`gemini-3…`), a history whose model turn
 *   has function calls must carry it back on the first call (or the `skip_thought_signature_validator`
 *   sentinel), as Gemini 3 does: else 400 "Function call is missing a thought_signature…", or
 *   "Invalid/Corrupted thought signature" when it does not verify.
 * - Schemas (`parameters`, `responseSchema`) with keywords outside Gemini's OpenAPI subset, unknown body
 *   fields and roles other than user/model get 400 INVALID_ARGUMENT, as the real API answers.
 * - "think" in the last user text adds reasoning (`thoughtsTokenCount`; thought parts when
 *   `thinkingConfig.includeThoughts`, and a signature on the last text part).
 * - Errors use `{"error":{"code","message","status","details"}}`: 503 UNAVAILABLE while down, 429 with RetryInfo
 *   while rate limited, 401/403 on bad credentials.
 * @example
 * const emulator = await startGeminiEmulator({ apiKey: 'AIza-test' });
 * // POST `${emulator.url}/v1beta/models/gemini-3-flash:generateContent` with x-goog-api-key: AIza-test
 */
export async function startGeminiEmulator(
  options: GeminiEmulatorOptions = {},
): Promise<GeminiEmulator> {
  const flavor = options.flavor ?? 'gemini';
  const secret = randomBytes(32);
  let down = false;
  let tokenDelay = options.tokenDelayMs ?? 0;
  let rateLimit: { retryDelay: string; perDay?: boolean } | null = null;
  const received: GeminiEmulatorRequest[] = [];
  const sign = (model: string, name: string, args: unknown): string => {
    const mac = createHmac('sha256', secret)
      .update(`${model}\n${name}\n${stableJson(args)}`)
      .digest();
    // Real signatures are base64 of a few hundred bytes; pad so ids that carry them are realistically long.
    return Buffer.concat([
      mac,
      createHmac('sha256', mac).update('pad').digest(),
      Buffer.alloc(64, mac),
    ]).toString('base64');
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://sandbox');
    let body: unknown;
    try {
      const text = await readBody(request);
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        body = undefined;
      }
      emulator.requests += 1;
      received.push({
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: request.headers,
        body,
      });
      const route = parseRoute(url.pathname, flavor);
      if (request.method !== 'POST' || !route)
        throw new GoogleHttpError(
          404,
          'NOT_FOUND',
          `Requested entity was not found (${url.pathname}).`,
        );
      checkAuth(request.headers, url, flavor, options.apiKey);
      if (down)
        throw new GoogleHttpError(
          503,
          'UNAVAILABLE',
          'The model is overloaded. Please try again later.',
        );
      if (rateLimit) throw rateLimited(flavor, route.model, rateLimit);
      if (body === null || typeof body !== 'object')
        throw invalid('Invalid JSON payload received.');
      const input = toInput(body as Record<string, unknown>, route.model, sign);
      const output = emulate(input.emulated, { modelName: route.model });
      if (route.method === 'countTokens')
        return sendJson(response, 200, { totalTokens: output.usage.inputTokens });
      const limit = options.contextWindow ?? 1_048_576;
      if (output.usage.inputTokens > limit) {
        throw invalid(
          `The input token count (${output.usage.inputTokens}) exceeds the maximum number of tokens allowed (${limit}).`,
        );
      }
      const answer = build(output, route.model, input.includeThoughts, sign);
      if (route.method === 'generateContent') return sendJson(response, 200, answer.whole);
      const sse = url.searchParams.get('alt') === 'sse';
      response.writeHead(200, {
        'content-type': sse ? 'text/event-stream' : 'application/json',
        'cache-control': 'no-cache',
      });
      response.flushHeaders();
      for (const [i, chunk] of answer.chunks.entries()) {
        if (i > 0 && tokenDelay > 0) await sleep(tokenDelay);
        const data = sse
          ? `data: ${JSON.stringify(chunk)}\r\n\r\n`
          : `${i === 0 ? '[' : ',\r\n'}${JSON.stringify(chunk)}`;
        if (!(await writeWithBackpressure(response, data))) return;
      }
      response.end(sse ? undefined : ']');
    } catch (error) {
      if (response.headersSent) return void response.destroy();
      const failure =
        error instanceof GoogleHttpError
          ? error
          : new GoogleHttpError(500, 'INTERNAL', `Internal error: ${String(error)}`);
      const details = failure.details.length > 0 ? { details: failure.details } : {};
      sendJson(response, failure.code, {
        error: { code: failure.code, message: failure.message, status: failure.status, ...details },
      });
    }
  };

  const server = await listen((request, response) => void handle(request, response));
  let requests = 0;
  const emulator: GeminiEmulator = {
    url: server.url,
    port: server.port,
    flavor,
    received,
    setDown: (value) => void (down = value),
    isDown: () => down,
    setTokenDelay: (ms) => void (tokenDelay = ms),
    setRateLimited: (limit) => void (rateLimit = limit),
    get requests() {
      return requests;
    },
    set requests(value: number) {
      requests = value;
    },
    close: () => server.close(),
  };
  return emulator;
}
