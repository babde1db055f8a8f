import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EVENT_STREAM_CONTENT_TYPE, encodeEventFrame } from '../src/transport/aws-eventstream.js';
import { processStats, serveIpc } from './ipc.js';

/**
 * The fake upstream of the translation benchmark (bench/translation.ts forks it): canned streams
 * of `events` text deltas in two wire formats, each built once per `configure` so serving one
 * costs the same whichever path asked for it.
 *
 * - `POST /v1/chat/completions`: OpenAI Chat Completions SSE (a role chunk, `events` content
 *   chunks, a finish chunk, the usage chunk when `include_usage` is asked, `[DONE]`).
 * - `POST /model/{id}/converse-stream`: Bedrock ConverseStream, AWS event-stream frames encoded
 *   with src/transport/aws-eventstream.ts (`messageStart`, `events` `contentBlockDelta`s,
 *   `contentBlockStop`, `messageStop`, `metadata`), each payload with the `p` padding field real
 *   Bedrock adds. No SigV4 check: the gateway's signing cost is still paid, only not verified.
 *
 * `delayMs` 0 sends a whole answer in one write (a fast upstream's buffered output); above 0,
 * one event per write, `delayMs` apart (tokens as a model produces them).
 */

const CREATED = 1_700_000_000;
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};

let events = 200;
let delayMs = 0;
let openAIStream = buildOpenAI(events);
let bedrockStream = buildBedrock(events);
let served = 0;

/** The same text in both formats: `tok<i> ` per delta, about the size of a real token. */
function token(index: number): string {
  return `tok${index} `;
}

function buildOpenAI(count: number): { body: string[]; usage: string; done: string } {
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: 'gpt-bench', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  const body = [chunk({ role: 'assistant', content: '' }, null)];
  for (let i = 0; i < count; i++) body.push(chunk({ content: token(i) }, null));
  body.push(chunk({}, 'stop'));
  const usage = `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: 'gpt-bench', choices: [], usage: { prompt_tokens: 14, completion_tokens: count, total_tokens: 14 + count } })}\n\n`;
  return { body, usage, done: 'data: [DONE]\n\n' };
}

function buildBedrock(count: number): Buffer[] {
  const frames: Uint8Array[] = [
    encodeEventFrame('messageStart', { role: 'assistant', p: padding(0) }),
  ];
  for (let i = 0; i < count; i++)
    frames.push(
      encodeEventFrame('contentBlockDelta', {
        contentBlockIndex: 0,
        delta: { text: token(i) },
        p: padding(i + 1),
      }),
    );
  frames.push(
    encodeEventFrame('contentBlockStop', { contentBlockIndex: 0, p: padding(count + 1) }),
  );
  frames.push(encodeEventFrame('messageStop', { stopReason: 'end_turn', p: padding(count + 2) }));
  frames.push(
    encodeEventFrame('metadata', {
      usage: { inputTokens: 14, outputTokens: count, totalTokens: 14 + count },
      metrics: { latencyMs: 1 },
      p: padding(count + 3),
    }),
  );
  return frames.map((frame) => Buffer.from(frame));
}

/** Bedrock's side-channel padding (varying length, as the real service sends). */
function padding(index: number): string {
  return 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123'.slice(0, 8 + (index % 40));
}

function handle(request: IncomingMessage, response: ServerResponse): void {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (piece: string) => (body += piece));
  request.on('end', () => {
    served += 1;
    const path = request.url ?? '/';
    if (path.endsWith('/chat/completions')) {
      const { body: pieces, usage, done } = openAIStream;
      const tail = body.includes('"include_usage":true') ? usage + done : done;
      return send(response, SSE_HEADERS, [...pieces.slice(0, -1), pieces.at(-1)! + tail]);
    }
    if (/^\/model\/[^/]+\/converse-stream$/.test(path))
      return send(response, { 'content-type': EVENT_STREAM_CONTENT_TYPE }, bedrockStream);
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end('{"message":"not found"}');
  });
}

function send(
  response: ServerResponse,
  headers: Record<string, string>,
  pieces: Array<string | Buffer>,
): void {
  response.writeHead(200, headers);
  if (delayMs === 0) {
    response.end(
      typeof pieces[0] === 'string' ? pieces.join('') : Buffer.concat(pieces as Buffer[]),
    );
    return;
  }
  response.flushHeaders();
  let index = 0;
  let timer: NodeJS.Timeout | undefined;
  response.once('close', () => clearTimeout(timer));
  const tick = () => {
    if (response.destroyed) return;
    response.write(pieces[index]!);
    index += 1;
    if (index < pieces.length) timer = setTimeout(tick, delayMs);
    else response.end();
  };
  tick();
}

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, handle);
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const { port } = server.address() as AddressInfo;
  serveIpc(`http://127.0.0.1:${port}`, {
    configure(message) {
      events = Number(message['events'] ?? events);
      delayMs = Number(message['delayMs'] ?? delayMs);
      openAIStream = buildOpenAI(events);
      bedrockStream = buildBedrock(events);
      return { events, delayMs };
    },
    stats(message) {
      return { ...processStats(message['gc'] === true), served };
    },
    shutdown() {
      server.closeAllConnections();
      server.close(() => process.exit(0));
      return {};
    },
  });
});
