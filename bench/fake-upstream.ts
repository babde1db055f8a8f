import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { processStats, serveIpc } from './ipc.js';

/**
 * The fake OpenAI upstream of the benchmark, run as its own process (bench/run.ts forks it).
 * Deliberately minimal so its own cost is small and identical whether the load generator calls
 * it directly or through Switchyard: a fixed chat completion, or a canned SSE stream of
 * `chunks` events `delayMs` apart (set over IPC with `configure`). A request is a stream when
 * its body contains `"stream":true`; the usage event is sent when it asks for `include_usage`.
 * With `barrier: N`, paced streams send their first event and then wait until N streams are
 * open at once (or 30 s pass), so "N concurrent streams" really are open together.
 */

const CREATED = 1_700_000_000;

/** The canned non-streaming answer (bytes sent as is). */
export const COMPLETION = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: CREATED,
    model: 'gpt-bench',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'Hello! This is the canned answer of the benchmark upstream.',
          refusal: null,
        },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 14, completion_tokens: 12, total_tokens: 26 },
    system_fingerprint: 'fp_bench',
  }),
);

function chunkEvent(index: number, last: boolean): string {
  const delta = index === 0 ? { role: 'assistant', content: 'tok0 ' } : { content: `tok${index} ` };
  const chunk = {
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'gpt-bench',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: last ? 'stop' : null }],
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

const USAGE_EVENT = `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: 'gpt-bench', choices: [], usage: { prompt_tokens: 14, completion_tokens: 10, total_tokens: 24 } })}\n\n`;
const DONE_EVENT = 'data: [DONE]\n\n';
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};
const JSON_HEADERS = {
  'content-type': 'application/json',
  'content-length': String(COMPLETION.length),
};

let chunks = 10;
let delayMs = 0;
let events: string[] = buildEvents(chunks);
let barrier = 0;
let waiting: Array<() => void> = [];
let barrierTimer: NodeJS.Timeout | undefined;
let connections = 0;
let inFlight = 0;
let maxInFlight = 0;
let served = 0;

function buildEvents(count: number): string[] {
  return Array.from({ length: count }, (_, index) => chunkEvent(index, index === count - 1));
}

function handle(request: IncomingMessage, response: ServerResponse): void {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (piece: string) => (body += piece));
  request.on('end', () => {
    served += 1;
    if (!body.includes('"stream":true')) {
      response.writeHead(200, JSON_HEADERS);
      response.end(COMPLETION);
      return;
    }
    stream(response, body.includes('"include_usage":true'));
  });
}

function stream(response: ServerResponse, includeUsage: boolean): void {
  inFlight += 1;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  const list = events;
  const gap = delayMs;
  let index = 0;
  let timer: NodeJS.Timeout | undefined;
  response.once('close', () => {
    inFlight -= 1;
    clearTimeout(timer);
  });
  response.writeHead(200, SSE_HEADERS);
  response.flushHeaders();
  const finish = () => response.end(includeUsage ? USAGE_EVENT + DONE_EVENT : DONE_EVENT);
  if (gap === 0) {
    // Burst: every event in one write, as a fast upstream's buffered output arrives.
    response.write(list.join(''));
    finish();
    return;
  }
  const tick = () => {
    if (response.destroyed) return;
    response.write(list[index]!);
    index += 1;
    if (index >= list.length) finish();
    else if (index === 1 && barrier > 0) hold(() => (timer = setTimeout(tick, gap)));
    else timer = setTimeout(tick, gap);
  };
  tick();
}

function hold(resume: () => void): void {
  waiting.push(resume);
  if (inFlight >= barrier) release();
  else barrierTimer ??= setTimeout(release, 30_000);
}

function release(): void {
  clearTimeout(barrierTimer);
  barrierTimer = undefined;
  const list = waiting;
  waiting = [];
  for (const resume of list) resume();
}

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, handle);
// Connections opened to the fake: a client that keeps its sockets alive opens few.
server.on('connection', () => (connections += 1));
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const { port } = server.address() as AddressInfo;
  serveIpc(`http://127.0.0.1:${port}`, {
    configure(message) {
      chunks = Number(message['chunks'] ?? chunks);
      delayMs = Number(message['delayMs'] ?? delayMs);
      barrier = Number(message['barrier'] ?? 0);
      release();
      events = buildEvents(chunks);
      maxInFlight = inFlight;
      return { chunks, delayMs, barrier };
    },
    stats(message) {
      return {
        ...processStats(message['gc'] === true),
        served,
        connections,
        inFlight,
        maxInFlight,
      };
    },
    shutdown() {
      server.closeAllConnections();
      server.close(() => process.exit(0));
      return {};
    },
  });
});
