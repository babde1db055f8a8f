import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { processStats, serveIpc } from './ipc.js';

/**
 * The upstreams of bench/agent.ts, in their own process: a scripted chat-completions model
 * (`POST /v1/chat/completions`) and an MCP server built with the official SDK (Streamable HTTP,
 * stateless, JSON responses, on `/mcp`) with one tool, `work`, that answers after `ms`.
 *
 * The model reads its script from the first user message: `AGENT <run> STEPS <n> TOOLMS <ms>
 * DELAY <ms>`. With k < n tool results in the conversation it calls `work {run, step: k, ms}`,
 * else it answers `done <run>`; every answer waits DELAY ms. A message without `AGENT` is a
 * plain chat request, answered at once.
 *
 * For every agent run both servers record when a request arrived and when its answer was
 * written (`performance.now()`, one clock), so the runner can measure the time the caller
 * spent between an answer and its next request: for Switchyard, the checkpoint and dispatch
 * of a step.
 *
 * IPC: `marks {runs?}` → `{ marks: { [run]: Mark[] } }`; `finals` → `{ count }` (runs whose
 * final answer was sent); `reset`; `stats`.
 */

/** One upstream request of an agent run: which server, arrival and answer time (ms). */
export interface Mark {
  kind: 'model' | 'tool';
  step: number;
  in: number;
  out: number;
}

const marks = new Map<string, Mark[]>();
let finals = 0;

const record = (run: string, mark: Mark) => {
  let list = marks.get(run);
  if (!list) marks.set(run, (list = []));
  list.push(mark);
};

const TOOL = {
  name: 'work',
  description: 'Does some work for ms milliseconds and reports the step',
  inputSchema: {
    type: 'object',
    properties: { run: { type: 'string' }, step: { type: 'number' }, ms: { type: 'number' } },
    required: ['run', 'step', 'ms'],
  },
};

interface ChatBody {
  messages: Array<{ role: string; content: unknown }>;
}

function answerModel(body: ChatBody, arrived: number, response: ServerResponse): void {
  const first = body.messages.find((message) => message.role === 'user');
  const text =
    typeof first?.content === 'string' ? first.content : JSON.stringify(first?.content ?? '');
  const script = /AGENT (\S+) STEPS (\d+) TOOLMS (\d+) DELAY (\d+)/.exec(text);
  let message: Record<string, unknown>;
  let finish = 'stop';
  let delay = 0;
  let run: string | undefined;
  let step = 0;
  if (script) {
    run = script[1]!;
    const steps = Number(script[2]);
    delay = Number(script[4]);
    step = body.messages.filter((entry) => entry.role === 'tool').length;
    if (step < steps) {
      message = {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: `call_${run}_${step}`,
            type: 'function',
            function: {
              name: 'work',
              arguments: JSON.stringify({ run, step, ms: Number(script[3]) }),
            },
          },
        ],
      };
      finish = 'tool_calls';
    } else message = { role: 'assistant', content: `done ${run}` };
  } else
    message = {
      role: 'assistant',
      content: 'A foreground answer of ordinary length from the benchmark model.',
    };
  const payload = JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-bench',
    choices: [{ index: 0, message, finish_reason: finish }],
    usage: { prompt_tokens: 200, completion_tokens: 20, total_tokens: 220 },
  });
  const send = () => {
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
    });
    response.end(payload);
    // After end(): the answer is in the socket's buffer, as 'finish' stamps the MCP answers.
    if (run !== undefined) {
      record(run, { kind: 'model', step, in: arrived, out: performance.now() });
      if (finish === 'stop') finals++;
    }
  };
  if (delay > 0) setTimeout(send, delay);
  else send();
}

/** The tool call one MCP HTTP request carried, if any. */
interface ToolCallSeen {
  run?: string;
  step?: number;
}

function mcpServer(seen: ToolCallSeen): Server {
  const server = new Server(
    { name: 'bench-mcp', version: '1.0.0' },
    { capabilities: { tools: {} } },
  );
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [TOOL] }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const args = (request.params.arguments ?? {}) as { run?: string; step?: number; ms?: number };
    seen.run = String(args.run);
    seen.step = Number(args.step);
    if (args.ms) await new Promise((resolve) => setTimeout(resolve, args.ms));
    return { content: [{ type: 'text', text: `step ${String(args.step)} of ${seen.run} done` }] };
  });
  return server;
}

const http = createServer((request: IncomingMessage, response: ServerResponse) => {
  const arrived = performance.now();
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
    if (request.url?.endsWith('/chat/completions'))
      return answerModel(body as ChatBody, arrived, response);
    if (request.url !== '/mcp' || request.method !== 'POST')
      return void response.writeHead(404).end();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    const seen: ToolCallSeen = {};
    const server = mcpServer(seen);
    // 'finish': the answer was handed to the socket, as for the model above.
    response.on('finish', () => {
      if (seen.run !== undefined)
        record(seen.run, {
          kind: 'tool',
          step: seen.step ?? -1,
          in: arrived,
          out: performance.now(),
        });
    });
    response.on('close', () => {
      void transport.close();
      void server.close();
    });
    void server.connect(transport).then(() => transport.handleRequest(request, response, body));
  });
});
http.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));

serveIpc(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, {
  marks(message) {
    const runs = message['runs'] as string[] | undefined;
    const out: Record<string, Mark[]> = {};
    for (const run of runs ?? marks.keys()) out[run] = marks.get(run) ?? [];
    return { marks: out };
  },
  finals: () => ({ count: finals }),
  reset() {
    marks.clear();
    finals = 0;
    return {};
  },
  stats: () => processStats(),
  shutdown() {
    http.closeAllConnections();
    http.close();
    setImmediate(() => process.exit(0));
    return {};
  },
});
