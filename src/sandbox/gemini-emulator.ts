import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomId } from '../core/ids.js';
import { listen, readBody, sendJson, writeWithBackpressure } from './http.js';
import { type EmulatedInput, type EmulatedOutput, emulate, tokenize } from './model.js';
import type { Emulator } from './openai-emulator.js';
import { merged } from '../core/objects.js';

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

class GoogleHttpError extends Error {
  constructor(
    readonly code: number,
    readonly status: string,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
  }
}

const invalid = (message: string) => new GoogleHttpError(400, 'INVALID_ARGUMENT', message);
const SKIP = 'skip_thought_signature_validator';
const SCHEMA_KEYS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'items',
  'minItems',
  'maxItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'anyOf',
  'propertyOrdering',
  'default',
  'example',
]);
const BODY_KEYS = new Set([
  'contents',
  'systemInstruction',
  'tools',
  'toolConfig',
  'generationConfig',
  'safetySettings',
  'cachedContent',
  'labels',
]);

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

type Signer = (model: string, name: string, args: unknown) => string;
type Route = { model: string; method: 'generateContent' | 'streamGenerateContent' | 'countTokens' };

function parseRoute(path: string, flavor: 'gemini' | 'vertex'): Route | undefined {
  const pattern =
    flavor === 'gemini'
      ? /^\/v1(?:beta|alpha)?\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/
      : /^\/v1(?:beta1)?\/projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;
  const match = pattern.exec(path);
  return match
    ? { model: decodeURIComponent(match[1]!), method: match[2] as Route['method'] }
    : undefined;
}

function checkAuth(
  headers: IncomingHttpHeaders,
  url: URL,
  flavor: 'gemini' | 'vertex',
  expected: string | undefined,
): void {
  if (expected === undefined) return;
  if (flavor === 'vertex') {
    if (headers.authorization === `Bearer ${expected}`) return;
    throw new GoogleHttpError(
      401,
      'UNAUTHENTICATED',
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
    );
  }
  const key = headers['x-goog-api-key'] ?? url.searchParams.get('key');
  if (key === expected) return;
  if (key === undefined || key === null) {
    throw new GoogleHttpError(
      403,
      'PERMISSION_DENIED',
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    );
  }
  throw new GoogleHttpError(
    400,
    'INVALID_ARGUMENT',
    'API key not valid. Please pass a valid API key.',
    [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'API_KEY_INVALID',
        domain: 'googleapis.com',
      },
    ],
  );
}

function rateLimited(
  flavor: 'gemini' | 'vertex',
  model: string,
  limit: { retryDelay: string; perDay?: boolean },
): GoogleHttpError {
  const quotaId = `GenerateRequestsPer${limit.perDay ? 'Day' : 'Minute'}PerProjectPerModel-FreeTier`;
  const message =
    flavor === 'vertex'
      ? 'Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.'
      : `You exceeded your current quota, please check your plan and billing details.\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10, model: ${model}\nPlease retry in ${limit.retryDelay}.`;
  return new GoogleHttpError(429, 'RESOURCE_EXHAUSTED', message, [
    {
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [
        {
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
          quotaId,
        },
      ],
    },
    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: limit.retryDelay },
  ]);
}

type Part = Record<string, unknown> & {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
};

/** Reads a GenerateContentRequest into the protocol-neutral input, validating as Gemini does. */
function toInput(
  body: Record<string, unknown>,
  model: string,
  sign: Signer,
): { emulated: EmulatedInput; includeThoughts: boolean } {
  for (const key of Object.keys(body))
    if (!BODY_KEYS.has(key))
      throw invalid(`Invalid JSON payload received. Unknown name "${key}": Cannot find field.`);
  const messages: EmulatedInput['messages'] = [];
  let images = 0;
  const system = body['systemInstruction'] as { parts?: Part[] } | undefined;
  const systemText = (system?.parts ?? []).map((part) => part.text ?? '').join('');
  if (systemText) messages.push({ role: 'system', text: systemText });
  const contents = body['contents'];
  if (!Array.isArray(contents) || contents.length === 0)
    throw invalid('* GenerateContentRequest.contents: contents is not specified');
  const enforce = Number(/gemini-(\d+)/.exec(model)?.[1] ?? 0) >= 3;
  contents.forEach((content: { role?: unknown; parts?: Part[] }, i) => {
    if (content.role !== 'user' && content.role !== 'model')
      throw invalid('Please use a valid role: user, model.');
    const parts = content.parts ?? [];
    if (parts.length === 0)
      throw invalid(
        `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`,
      );
    images += parts.filter(
      (p) => p['inlineData'] !== undefined || p['fileData'] !== undefined,
    ).length;
    if (content.role === 'model') {
      const text = parts
        .filter((p) => typeof p.text === 'string' && !p.thought)
        .map((p) => p.text)
        .join('');
      const calls = parts.filter((p) => p['functionCall'] !== undefined);
      const toolCalls = calls.map((part, k) => {
        const call = part['functionCall'] as { name: string; args?: unknown; id?: string };
        const signature = part.thoughtSignature;
        if (k === 0 && enforce && signature === undefined) {
          throw invalid(
            `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${call.name}\` , position ${i + 1}.`,
          );
        }
        if (
          signature !== undefined &&
          signature !== SKIP &&
          signature !== sign(model, call.name, call.args ?? {})
        ) {
          throw invalid('Corrupted thought signature.');
        }
        return {
          id: call.id ?? call.name,
          name: call.name,
          arguments: JSON.stringify(call.args ?? {}),
        };
      });
      messages.push(
        toolCalls.length > 0 ? { role: 'assistant', text, toolCalls } : { role: 'assistant', text },
      );
      return;
    }
    // Keep part order: function responses and the user's own text may share one turn.
    for (const part of parts) {
      const result = part['functionResponse'] as
        | { name: string; response?: unknown; id?: string }
        | undefined;
      const last = messages.at(-1);
      if (result)
        messages.push({
          role: 'tool',
          text: JSON.stringify(result.response ?? {}),
          toolCallId: result.id ?? result.name,
        });
      else if (last?.role === 'user') last.text += typeof part.text === 'string' ? part.text : '';
      else messages.push({ role: 'user', text: typeof part.text === 'string' ? part.text : '' });
    }
  });
  const tools = (
    (body['tools'] ?? []) as Array<{ functionDeclarations?: Array<Record<string, unknown>> }>
  ).flatMap((tool, i) =>
    (tool.functionDeclarations ?? []).map((declaration, j) => {
      const parameters = declaration['parameters'] as Record<string, unknown> | undefined;
      if (parameters) checkSchema(parameters, `tools[${i}].function_declarations[${j}].parameters`);
      return {
        name: String(declaration['name']),
        ...(parameters ? { parameters: lowerTypes(parameters) } : {}),
      };
    }),
  );
  const generation = (body['generationConfig'] ?? {}) as Record<string, unknown>;
  const emulated: EmulatedInput = { messages, tools, images };
  const calling = (
    body['toolConfig'] as
      | { functionCallingConfig?: { mode?: string; allowedFunctionNames?: string[] } }
      | undefined
  )?.functionCallingConfig;
  if (calling?.mode === 'NONE') emulated.toolChoice = 'none';
  else if (calling?.mode === 'ANY')
    emulated.toolChoice =
      calling.allowedFunctionNames?.length === 1
        ? { name: calling.allowedFunctionNames[0]! }
        : 'required';
  if (typeof generation['maxOutputTokens'] === 'number')
    emulated.maxTokens = generation['maxOutputTokens'];
  if (Array.isArray(generation['stopSequences']))
    emulated.stop = generation['stopSequences'] as string[];
  const schema = (generation['responseSchema'] ?? generation['responseJsonSchema']) as
    | Record<string, unknown>
    | undefined;
  if (generation['responseSchema']) checkSchema(schema!, 'generation_config.response_schema');
  if (schema) emulated.jsonSchema = lowerTypes(schema);
  const thinking = generation['thinkingConfig'] as { includeThoughts?: boolean } | undefined;
  return { emulated, includeThoughts: thinking?.includeThoughts === true };
}

/** Gemini's `Schema` is an OpenAPI subset: any other keyword is an unknown proto field. */
function checkSchema(schema: Record<string, unknown>, at: string): void {
  for (const [key, value] of Object.entries(schema)) {
    if (!SCHEMA_KEYS.has(key))
      throw invalid(
        `Invalid JSON payload received. Unknown name "${key}" at '${at}': Cannot find field.`,
      );
    if (key === 'properties')
      for (const [name, sub] of Object.entries(value as object))
        checkSchema(sub as Record<string, unknown>, `${at}.properties[${name}].value`);
    if (key === 'items') checkSchema(value as Record<string, unknown>, `${at}.items`);
    if (key === 'anyOf')
      (value as Array<Record<string, unknown>>).forEach((sub, k) => {
        checkSchema(sub, `${at}.any_of[${k}]`);
      });
  }
}

/** Gemini accepts `STRING`/`OBJECT`; the emulated model reads JSON Schema's lowercase names. */
function lowerTypes(schema: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema), (key, value: unknown) =>
    key === 'type' && typeof value === 'string' ? value.toLowerCase() : value,
  );
}

/** The whole answer and its stream chunks. */
function build(
  output: EmulatedOutput,
  model: string,
  includeThoughts: boolean,
  sign: Signer,
): { whole: object; chunks: object[] } {
  const responseId = randomId('', 22);
  const usage = output.usage;
  const usageMetadata = {
    promptTokenCount: usage.inputTokens,
    candidatesTokenCount: usage.outputTokens - usage.reasoningTokens,
    totalTokenCount: usage.inputTokens + usage.outputTokens,
    ...(usage.cachedInputTokens > 0 ? { cachedContentTokenCount: usage.cachedInputTokens } : {}),
    ...(usage.reasoningTokens > 0 ? { thoughtsTokenCount: usage.reasoningTokens } : {}),
  };
  const finishReason = output.finishReason === 'length' ? 'MAX_TOKENS' : 'STOP';
  const thought: Part[] =
    includeThoughts && output.reasoning ? [{ text: output.reasoning, thought: true }] : [];
  const textSignature = output.reasoning ? sign(model, '', output.reasoning) : undefined;
  const calls: Part[] = output.toolCalls.map((call, k) => {
    const args = JSON.parse(call.arguments) as Record<string, unknown>;
    const part: Part = { functionCall: { name: call.name, args } };
    // Gemini 3 signs only the first call of a parallel set.
    return k === 0 ? merged(part, { thoughtSignature: sign(model, call.name, args) }) : part;
  });
  const text: Part[] =
    output.text === ''
      ? []
      : [
          {
            text: output.text,
            ...(textSignature && calls.length === 0 ? { thoughtSignature: textSignature } : {}),
          },
        ];
  const wrap = (parts: Part[], last: boolean): object => ({
    candidates: [
      { content: { role: 'model', parts }, index: 0, ...(last ? { finishReason } : {}) },
    ],
    ...(last ? { usageMetadata } : { usageMetadata: { promptTokenCount: usage.inputTokens } }),
    modelVersion: model,
    responseId,
  });
  const pieces: Part[][] = [
    ...thought.map((part) => [part]),
    ...tokenize(output.text).map((piece) => [{ text: piece }]),
    ...calls.map((part) => [part]),
  ];
  const closing: Part[] =
    textSignature && calls.length === 0 && output.text !== ''
      ? [{ text: '', thoughtSignature: textSignature }]
      : [];
  const chunks = pieces.map((parts) => wrap(parts, false));
  if (closing.length > 0 || chunks.length === 0) chunks.push(wrap(closing, true));
  else chunks[chunks.length - 1] = wrap(pieces.at(-1)!, true);
  return { whole: wrap([...thought, ...text, ...calls], true), chunks };
}

/** JSON with sorted keys, so a signature survives key reordering by clients. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
