import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeEventFrame, EVENT_STREAM_CONTENT_TYPE } from '../transport/aws-eventstream.js';
import { verifySigV4 } from '../transport/sigv4.js';
import { converseResponse, padding, streamEvents } from './bedrock-converse-answer.js';
import { parseJson, toEmulatedInput } from './bedrock-converse-request.js';
import { BedrockHttpError, ERROR_SUFFIX, validation } from './bedrock-errors.js';
import { readBody, sendJson, writeWithBackpressure } from './http.js';
import { listenH1AndH2c } from './listen-h1-and-h2c.js';
import { type EmulatedOutput, emulate, tokenize } from './model.js';
import type { Emulator } from './openai-emulator.js';
import {
  buildCompletion,
  completionChunks,
  HttpError,
  parseChatRequest,
  parseJsonBody,
} from './openai-wire.js';
import { merged } from '../core/objects.js';

/** Options of {@link startBedrockEmulator}. */
export interface BedrockEmulatorOptions {
  /** Region the SigV4 credential scope must name. Default `us-east-1`. */
  region?: string;
  /** When set, requests must be SigV4-signed with these (service `bedrock`), or carry `apiKey`. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** When set, `Authorization: Bearer <apiKey>` (a Bedrock API key) is accepted. */
  apiKey?: string;
  /** Milliseconds between stream frames. Default 0. */
  tokenDelayMs?: number;
  /** Input-token limit; longer prompts get ValidationException "Input is too long...". Default none. */
  contextWindow?: number;
}

/**
 * Starts an emulated Amazon Bedrock Runtime on loopback (../shared/protocols/bedrock.md),
 * answering with the deterministic model of ./model.ts:
 *
 * - `POST /model/{modelId}/converse` → Converse JSON; `/converse-stream` → an AWS event stream
 *   (messageStart, contentBlockStart for tool blocks only, contentBlockDelta, contentBlockStop,
 *   messageStop, metadata; every payload padded with `p` as real Bedrock does).
 * - `POST /openai/v1/chat/completions` (and `/v1/chat/completions`) → OpenAI Chat Completions.
 * - Auth: SigV4 verified with `credentials` (403 UnrecognizedClientException for an unknown key,
 *   InvalidSignatureException for a bad signature), or a Bedrock API key as Bearer. No
 *   credentials and no apiKey configured = no auth.
 * - HTTP/1.1 and HTTP/2 cleartext with prior knowledge (the AWS SDK's default handler) on one port.
 * - Errors in Bedrock's shape (`{"message"}` + `x-amzn-errortype`); while down, 503
 *   ServiceUnavailableException. A prompt containing "think" gets a signed reasoning block; a
 *   reasoning block sent back with a wrong signature is a ValidationException.
 *
 * @example
 * const emulator = await startBedrockEmulator({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
 * const client = new BedrockRuntimeClient({ endpoint: emulator.url, region: 'us-east-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
 */
export async function startBedrockEmulator(
  options: BedrockEmulatorOptions = {},
): Promise<Emulator> {
  let down = false;
  let tokenDelayMs = options.tokenDelayMs ?? 0;
  let requests = 0;

  async function authorize(
    request: IncomingMessage,
    path: string,
    query: string,
    body: string,
  ): Promise<void> {
    const { credentials, apiKey } = options;
    if (!credentials && apiKey === undefined) return;
    const header = request.headers.authorization ?? '';
    if (header.startsWith('Bearer ')) {
      if (apiKey !== undefined && header.slice(7) === apiKey) return;
      throw new BedrockHttpError(
        403,
        'UnrecognizedClientException',
        'Invalid API Key format: Must start with pre-defined prefix',
      );
    }
    if (!header)
      throw new BedrockHttpError(
        403,
        'MissingAuthenticationTokenException',
        'Missing Authentication Token',
      );
    if (!credentials)
      throw new BedrockHttpError(
        403,
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    const result = await verifySigV4(
      { method: request.method ?? 'POST', path, query, headers: request.headers, body },
      async (id) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined),
    );
    if (result.ok && result.region !== (options.region ?? 'us-east-1')) {
      throw new BedrockHttpError(
        403,
        'InvalidSignatureException',
        `Credential should be scoped to a valid region, not '${result.region}'.`,
      );
    }
    if (result.ok) return;
    if (result.reason === 'unknown_key')
      throw new BedrockHttpError(403, 'UnrecognizedClientException', result.message);
    if (result.reason === 'missing')
      throw new BedrockHttpError(403, 'MissingAuthenticationTokenException', result.message);
    throw new BedrockHttpError(
      403,
      result.reason === 'malformed' ? 'IncompleteSignatureException' : 'InvalidSignatureException',
      result.message,
    );
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    requests++;
    const headers: Record<string, string> = { 'x-amzn-requestid': randomUUID() };
    const raw = request.url ?? '/';
    const [path = '/', query = ''] = raw.split('?', 2);
    const openAIPath =
      request.method === 'POST' &&
      (path === '/openai/v1/chat/completions' || path === '/v1/chat/completions');
    try {
      const body = await readBody(request);
      if (down)
        throw new BedrockHttpError(
          503,
          'ServiceUnavailableException',
          'Bedrock is unable to process your request.',
        );
      const converse = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(path);
      if (request.method !== 'POST' || (!converse && !openAIPath)) {
        throw new BedrockHttpError(
          404,
          'UnknownOperationException',
          `Unknown operation ${request.method ?? ''} ${path}`,
        );
      }
      await authorize(request, path, query, body);
      if (openAIPath) return await openAIChat(body, headers, response);
      const modelId = decodeURIComponent(converse![1]!);
      const input = toEmulatedInput(parseJson(body));
      const output = emulate(input, { modelName: modelId });
      const limit = options.contextWindow;
      if (limit !== undefined && output.usage.inputTokens > limit)
        throw validation('Input is too long for requested model.');
      if (converse![2] === 'converse') sendJson(response, 200, converseResponse(output), headers);
      else await stream(output, headers, response);
    } catch (error) {
      if (response.headersSent) return void response.destroy();
      if (error instanceof HttpError)
        return sendJson(response, error.status, error.body, merged(headers, error.headers));
      const failure =
        error instanceof BedrockHttpError
          ? error
          : new BedrockHttpError(
              500,
              'InternalServerException',
              `Emulator failure: ${String(error)}`,
            );
      sendJson(
        response,
        failure.status,
        { message: failure.message },
        merged(headers, { 'x-amzn-errortype': `${failure.type}${ERROR_SUFFIX}` }),
      );
    }
  }

  async function stream(
    output: EmulatedOutput,
    headers: Record<string, string>,
    response: ServerResponse,
  ): Promise<void> {
    response.writeHead(200, merged(headers, { 'content-type': EVENT_STREAM_CONTENT_TYPE }));
    response.flushHeaders();
    for (const [i, [event, payload]] of streamEvents(output).entries()) {
      if (i > 0 && tokenDelayMs > 0) await sleep(tokenDelayMs);
      if (
        !(await writeWithBackpressure(
          response,
          encodeEventFrame(event, merged(payload, { p: padding(i) })),
        ))
      )
        return;
    }
    response.end();
  }

  async function openAIChat(
    text: string,
    headers: Record<string, string>,
    response: ServerResponse,
  ): Promise<void> {
    const { request, input } = parseChatRequest(parseJsonBody(text), { requireModel: true });
    const output = emulate(input, { modelName: request.model });
    const meta = {
      id: `chatcmpl-${randomUUID()}`,
      model: request.model,
      created: Math.floor(Date.now() / 1000),
    };
    if (request.stream !== true)
      return sendJson(response, 200, buildCompletion(meta, output), headers);
    response.writeHead(
      200,
      merged(headers, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
      }),
    );
    response.flushHeaders();
    const includeUsage = request.stream_options?.include_usage === true;
    for (const [i, chunk] of [
      ...completionChunks(meta, output, { includeUsage, tokenize }),
    ].entries()) {
      if (i > 0 && tokenDelayMs > 0) await sleep(tokenDelayMs);
      if (!(await writeWithBackpressure(response, `data: ${JSON.stringify(chunk)}\n\n`))) return;
    }
    if (await writeWithBackpressure(response, 'data: [DONE]\n\n')) response.end();
  }

  const server = await listenH1AndH2c((request, response) => void handle(request, response));
  return {
    url: server.url,
    port: server.port,
    flavor: 'bedrock',
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
