import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomId } from '../core/ids.js';
import {
  azureFirstChunk,
  azureNotFound,
  azureUnauthorized,
  checkApiVersion,
  choiceFilterResults,
  contentFilterError,
  deploymentNotFound,
  isForbidden,
  promptFilterResults,
} from './azure.js';
import { buildEmbeddings } from './embeddings.js';
import { BodyTooLargeError, listen, readBody, sendJson, writeWithBackpressure } from './http.js';
import { emulate, tokenize } from './model.js';
import {
  buildCompletion,
  completionChunks,
  HttpError,
  openAIError,
  parseChatRequest,
  parseJsonBody,
} from './openai-wire.js';
import type { CompletionMeta } from './openai-wire.js';
import { createPtuWindow, type PtuWindow } from './ptu.js';
import { merged } from '../core/objects.js';

/** A running emulated cloud endpoint. */
export interface Emulator {
  /** Base URL, e.g. `http://127.0.0.1:41234` (OpenAI SDK: `url + '/v1'`; Azure: `url` as endpoint). */
  url: string;
  port: number;
  flavor: string;
  /** While down, every request gets 503 in OpenAI's error shape, so a gateway fails over. */
  setDown(down: boolean): void;
  isDown(): boolean;
  /** Delay between streamed chunks, read before each chunk (so it applies mid-stream too). */
  setTokenDelay(ms: number): void;
  /** Requests received so far, including rejected ones. Assignable (e.g. reset to 0). */
  requests: number;
  /** Stops the server and drops open connections. */
  close(): Promise<void>;
}

/** Options of {@link startOpenAIEmulator}. */
export interface OpenAIEmulatorOptions {
  /** `openai`: api.openai.com paths. `azure`: classic deployment paths and `/openai/v1`. */
  flavor: 'openai' | 'azure';
  /** Milliseconds between streamed chunks. Default 0. */
  tokenDelayMs?: number;
  /** When set, requests must carry it (`Authorization: Bearer`, or `api-key` on Azure). Default: no auth. */
  apiKey?: string;
  /** Default `127.0.0.1`. */
  host?: '127.0.0.1';
  /** Default 0 (any free port). */
  port?: number;
  /** Models (Azure: deployments) that exist; others get 404. Default: any name is accepted. */
  models?: string[];
  /** Input-token limit; larger prompts get 400 `context_length_exceeded`. Default: none. */
  contextWindow?: number;
  /**
   * Azure only: provisioned (PTU) deployments and their capacity in tokens per minute. A chat
   * request to one is admitted against prompt tokens plus its `max_tokens` and answered 429
   * with `retry-after-ms` and `x-ratelimit-remaining-tokens` once the minute is used (./ptu.ts).
   */
  ptu?: Record<string, number>;
}

type Route =
  | { kind: 'chat' | 'embeddings'; deployment?: string }
  | { kind: 'models' }
  | { kind: 'model'; id: string };

const DEFAULT_MODELS = ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small'];

/**
 * Starts an emulated OpenAI or Azure OpenAI endpoint on loopback, speaking the real wire
 * format over node:http and answering with the deterministic model of ./model.ts.
 *
 * - OpenAI: `POST /v1/chat/completions` (JSON or SSE), `POST /v1/embeddings`, `GET /v1/models[/id]`.
 * - Azure: `POST /openai/deployments/{deployment}/chat/completions|embeddings?api-version=…`
 *   (api-version required) and `/openai/v1/chat/completions|embeddings|models` (body `model` =
 *   deployment); auth by `api-key` or `Authorization: Bearer`; answers carry
 *   `prompt_filter_results` and per-choice `content_filter_results`; streams start with the
 *   Azure first chunk; a last user message containing "forbidden-content" gets 400 `content_filter`.
 *
 * @example
 * const emulator = await startOpenAIEmulator({ flavor: 'openai', apiKey: 'sk-test' });
 * const client = new OpenAI({ baseURL: emulator.url + '/v1', apiKey: 'sk-test' });
 */
export async function startOpenAIEmulator(options: OpenAIEmulatorOptions): Promise<Emulator> {
  const azure = options.flavor === 'azure';
  let down = false;
  let tokenDelayMs = options.tokenDelayMs ?? 0;
  let requests = 0;
  const ptu = new Map<string, PtuWindow>(
    Object.entries(azure ? (options.ptu ?? {}) : {}).map(([name, tpm]) => [
      name,
      createPtuWindow(tpm),
    ]),
  );

  const notFound = (request: IncomingMessage): HttpError =>
    azure ? azureNotFound() : openAIError(404, `Invalid URL (${request.method} ${request.url})`);

  function route(request: IncomingMessage, url: URL): Route | undefined {
    const path = url.pathname.replace(/\/+$/, '');
    const post = request.method === 'POST';
    const prefix = azure ? '/openai/v1' : '/v1';
    if (path.startsWith(`${prefix}/`)) {
      if (azure) checkV1ApiVersion(url.searchParams.get('api-version'));
      const rest = path.slice(prefix.length);
      if (post && rest === '/chat/completions') return { kind: 'chat' };
      if (post && rest === '/embeddings') return { kind: 'embeddings' };
      if (request.method === 'GET' && rest === '/models') return { kind: 'models' };
      const model = /^\/models\/([^/]+)$/.exec(rest)?.[1];
      if (request.method === 'GET' && model !== undefined)
        return { kind: 'model', id: decodeURIComponent(model) };
      return undefined;
    }
    const classic =
      azure && post
        ? /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(path)
        : null;
    if (classic?.[1] === undefined) return undefined;
    checkApiVersion(url.searchParams.get('api-version'));
    return {
      kind: classic[2] === 'embeddings' ? 'embeddings' : 'chat',
      deployment: decodeURIComponent(classic[1]),
    };
  }

  function authorize(request: IncomingMessage): void {
    const key = options.apiKey;
    if (key === undefined) return;
    const bearer = request.headers.authorization;
    if (bearer === `Bearer ${key}` || (azure && request.headers['api-key'] === key)) return;
    if (azure) throw azureUnauthorized();
    if (bearer === undefined) {
      throw openAIError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      );
    }
    const shown = bearer.replace(/^Bearer\s+/i, '');
    throw openAIError(
      401,
      `Incorrect API key provided: ${shown.slice(0, 3)}***${shown.slice(-4)}.`,
      { code: 'invalid_api_key' },
    );
  }

  function checkModel(model: string): void {
    if (options.models === undefined || options.models.includes(model)) return;
    if (azure) throw deploymentNotFound(model);
    throw openAIError(
      404,
      `The model \`${model}\` does not exist or you do not have access to it.`,
      { code: 'model_not_found' },
    );
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    requests++;
    const headers: Record<string, string> = { 'x-request-id': randomId('req_') };
    if (azure)
      Object.assign(headers, { 'apim-request-id': randomUUID(), 'x-ms-region': 'sandbox' });
    else Object.assign(headers, { 'openai-version': '2020-10-01', 'openai-processing-ms': '1' });
    try {
      if (down) throw openAIError(503, 'The server is overloaded or not ready yet.');
      const url = new URL(request.url ?? '/', 'http://sandbox');
      const target = route(request, url);
      if (target === undefined) throw notFound(request);
      authorize(request);
      if (target.kind === 'models') {
        const ids = options.models ?? DEFAULT_MODELS;
        sendJson(response, 200, { object: 'list', data: ids.map(modelObject) }, headers);
        return;
      }
      if (target.kind === 'model') {
        checkModel(target.id);
        sendJson(response, 200, modelObject(target.id), headers);
        return;
      }
      const body = parseJsonBody(await readBody(request));
      if (target.kind === 'embeddings') {
        const result = buildEmbeddings(body, target.deployment);
        checkModel(result.model);
        sendJson(response, 200, result, headers);
        return;
      }
      await chat(body, target.deployment, headers, response);
    } catch (error) {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const failure =
        error instanceof HttpError
          ? error
          : error instanceof BodyTooLargeError
            ? openAIError(413, error.message)
            : openAIError(500, `Sandbox emulator failure: ${String(error)}`);
      sendJson(response, failure.status, failure.body, merged(headers, failure.headers));
    }
  }

  async function chat(
    body: unknown,
    deployment: string | undefined,
    headers: Record<string, string>,
    response: ServerResponse,
  ): Promise<void> {
    const { request, input } = parseChatRequest(body, { requireModel: deployment === undefined });
    const model = deployment ?? request.model;
    checkModel(model);
    if (azure) headers['x-ms-deployment-name'] = model;
    const lastUser = input.messages.findLast((m) => m.role === 'user')?.text ?? '';
    if (azure && isForbidden(lastUser)) throw contentFilterError();
    const output = emulate(input, { modelName: model });
    const limit = options.contextWindow;
    if (limit !== undefined && output.usage.inputTokens > limit) {
      throw openAIError(
        400,
        `This model's maximum context length is ${limit} tokens. However, your messages resulted in ${output.usage.inputTokens} tokens. Please reduce the length of the messages.`,
        { param: 'messages', code: 'context_length_exceeded' },
      );
    }
    const window = ptu.get(model);
    if (window) {
      const used = output.usage.inputTokens + output.usage.outputTokens;
      window.settle(window.admit(output.usage.inputTokens + (input.maxTokens ?? 0)), used);
      Object.assign(headers, window.headers());
    }
    const meta: CompletionMeta = {
      id: randomId('chatcmpl-'),
      model,
      created: Math.floor(Date.now() / 1000),
    };
    if (request.stream !== true) {
      const completion = buildCompletion(meta, output);
      if (azure) {
        completion['prompt_filter_results'] = promptFilterResults();
        for (const choice of completion.choices)
          choice['content_filter_results'] = choiceFilterResults();
      }
      sendJson(response, 200, completion, headers);
      return;
    }

    response.writeHead(
      200,
      merged(headers, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      }),
    );
    response.flushHeaders();
    const includeUsage = request.stream_options?.include_usage === true;
    const obfuscate = !azure && request.stream_options?.['include_obfuscation'] !== false;
    const frames: Array<Record<string, unknown>> = azure ? [azureFirstChunk()] : [];
    let sequence = 0;
    for (const chunk of completionChunks(meta, output, { includeUsage, tokenize })) {
      if (azure) {
        for (const choice of chunk.choices)
          choice['content_filter_results'] = choice.delta.content ? choiceFilterResults() : {};
      }
      if (obfuscate) chunk['obfuscation'] = obfuscation(meta.id, sequence++);
      frames.push(chunk);
    }
    for (const [i, frame] of frames.entries()) {
      if (i > 0 && tokenDelayMs > 0) await sleep(tokenDelayMs);
      if (!(await writeWithBackpressure(response, `data: ${JSON.stringify(frame)}\n\n`))) return;
    }
    if (await writeWithBackpressure(response, 'data: [DONE]\n\n')) response.end();
  }

  const server = await listen(
    (request, response) => void handle(request, response),
    options.host ?? '127.0.0.1',
    options.port ?? 0,
  );
  return {
    url: server.url,
    port: server.port,
    flavor: options.flavor,
    setDown: (value) => void (down = value),
    isDown: () => down,
    setTokenDelay: (ms) => void (tokenDelayMs = ms),
    get requests() {
      return requests;
    },
    set requests(value: number) {
      requests = value;
    },
    close: () => server.close(),
  };
}

function checkV1ApiVersion(apiVersion: string | null): void {
  if (apiVersion === null || apiVersion === 'v1' || apiVersion === 'preview') return;
  throw new HttpError(400, { error: { code: 'BadRequest', message: 'API version not supported' } });
}

function modelObject(id: string): Record<string, unknown> {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'switchyard-sandbox' };
}

/** OpenAI pads stream chunks with a random-length `obfuscation` string; this one is derived, not random. */
function obfuscation(id: string, sequence: number): string {
  const digest = createHash('sha256').update(`${id}:${sequence}`).digest('base64url');
  return digest.slice(0, 4 + (sequence % 12));
}
