import { type ChildProcess, spawn } from 'node:child_process';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll } from 'vitest';
import { createDatabase, type Database } from '../../src/store/index.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import { type RunningApp, startApp } from '../runtime/helpers.js';

/**
 * Test rig for server-run tools: a real MCP server (official SDK, Streamable HTTP and legacy
 * SSE on loopback) that counts its calls, and a scripted chat-completions model.
 */

/** One call the MCP server received. */
export interface McpCallRecord {
  name: string;
  args: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  finished: boolean;
}

export interface TestMcpServer {
  url: string;
  sseUrl: string;
  calls: McpCallRecord[];
  listCount: number;
  /** Headers of every HTTP request received. */
  requests: Array<Record<string, string | string[] | undefined>>;
  close(): Promise<void>;
}

const TOOLS = [
  {
    name: 'add',
    description: 'Adds two numbers',
    inputSchema: {
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
    },
  },
  {
    name: 'echo',
    description: 'Echoes text',
    inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  },
  {
    name: 'slow',
    description: 'Waits ms milliseconds, then answers with the tag',
    inputSchema: {
      type: 'object',
      properties: { ms: { type: 'number' }, tag: { type: 'string' } },
      required: ['ms', 'tag'],
    },
  },
  { name: 'fail', description: 'Always fails', inputSchema: { type: 'object', properties: {} } },
  {
    name: 'big',
    description: 'Returns n characters',
    inputSchema: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] },
  },
];

/** Starts an MCP server on 127.0.0.1 with tools add, echo, slow, fail, big. */
export async function startMcpServer(): Promise<TestMcpServer> {
  const calls: McpCallRecord[] = [];
  const requests: TestMcpServer['requests'] = [];
  let listCount = 0;
  const sseTransports = new Map<string, SSEServerTransport>();

  const build = (headers: Record<string, string | string[] | undefined>) => {
    const server = new Server(
      { name: 'test-mcp', version: '1.0.0' },
      { capabilities: { tools: {} } },
    );
    server.setRequestHandler(ListToolsRequestSchema, async () => {
      listCount++;
      return { tools: TOOLS };
    });
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const args = (request.params.arguments ?? {}) as Record<string, unknown>;
      const record: McpCallRecord = { name: request.params.name, args, headers, finished: false };
      calls.push(record);
      try {
        switch (request.params.name) {
          case 'add':
            return {
              content: [{ type: 'text', text: String(Number(args['a']) + Number(args['b'])) }],
            };
          case 'echo':
            return { content: [{ type: 'text', text: String(args['text']) }] };
          case 'slow':
            await new Promise((resolve) => setTimeout(resolve, Number(args['ms'])));
            return { content: [{ type: 'text', text: `slow done ${String(args['tag'])}` }] };
          case 'fail':
            return {
              isError: true,
              content: [{ type: 'text', text: 'the tool failed on purpose' }],
            };
          case 'big':
            return { content: [{ type: 'text', text: 'x'.repeat(Number(args['n'])) }] };
          default:
            throw new Error(`unknown tool ${request.params.name}`);
        }
      } finally {
        record.finished = true;
      }
    });
    return server;
  };

  const http: HttpServer = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push({ ...req.headers });
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/sse' && req.method === 'GET') {
      const transport = new SSEServerTransport('/messages', res);
      sseTransports.set(transport.sessionId, transport);
      void build({ ...req.headers }).connect(transport);
      return;
    }
    if (url.pathname === '/messages' && req.method === 'POST') {
      const transport = sseTransports.get(url.searchParams.get('sessionId') ?? '');
      if (!transport) {
        res.writeHead(404).end();
        return;
      }
      void transport.handlePostMessage(req, res);
      return;
    }
    if (url.pathname !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      const server = build({ ...req.headers });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      void server.connect(transport).then(() => transport.handleRequest(req, res, body));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    sseUrl: `http://127.0.0.1:${port}/sse`,
    calls,
    get listCount() {
      return listCount;
    },
    requests,
    async close() {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** A chat message as the fake model receives it. */
interface Message {
  role: string;
  content: unknown;
  tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>;
}

/** A chat-completions request the fake model received. */
export interface ModelRequest {
  messages: Message[];
  tools?: Array<{ function: { name: string } }>;
}

/**
 * A scripted chat-completions model (stateless, so a resumed run sees the same answers): the
 * first user message lists steps `CALL <tool> <json>` separated by `;`. With k tool results
 * so far it calls step k; when every step has a result, it answers `final: <last tool result>`.
 * `DELAY <ms>` anywhere in the message delays every answer.
 */
export async function startScriptedModel(): Promise<{
  url: string;
  requests: ModelRequest[];
  close(): Promise<void>;
}> {
  const requests: ModelRequest[] = [];
  let counter = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ModelRequest;
      requests.push(body);
      const users = body.messages
        .filter((message) => message.role === 'user')
        .map((message) =>
          typeof message.content === 'string' ? message.content : JSON.stringify(message.content),
        );
      const script = users[0] ?? '';
      const steps = [...script.matchAll(/CALL (\w+) (\{[^;]*\})/g)].map((match) => ({
        name: match[1]!,
        args: match[2]!,
      }));
      const delay = Number(/DELAY (\d+)/.exec(script)?.[1] ?? 0);
      const results = body.messages.filter((message) => message.role === 'tool');
      const k = results.length;
      let message: Record<string, unknown>;
      let finish = 'stop';
      if (
        k < steps.length &&
        (body.tools ?? []).some((tool) => tool.function.name === steps[k]!.name)
      ) {
        message = {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: `call_${++counter}`,
              type: 'function',
              function: { name: steps[k]!.name, arguments: steps[k]!.args },
            },
          ],
        };
        finish = 'tool_calls';
      } else {
        const last = results.at(-1);
        message = {
          role: 'assistant',
          content: last ? `final: ${String(last.content)}` : `no tools: ${script.slice(0, 40)}`,
        };
      }
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: `chatcmpl-${counter}`,
            object: 'chat.completion',
            created: 1,
            model: 'fake',
            choices: [{ index: 0, message, finish_reason: finish }],
            usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
          }),
        );
      }, delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Config of a Switchyard routing model `fake` to the scripted model. */
export function agentConfig(modelUrl: string, tools: Record<string, unknown> = {}) {
  return {
    providers: {
      fake: {
        type: 'openai' as const,
        partner: 'openai',
        baseUrl: `${modelUrl}/v1`,
        apiKey: 'sk-fake',
      },
    },
    models: {
      fake: {
        capabilities: ['tools' as const],
        deployments: [{ provider: 'fake', model: 'fake-model' }],
      },
    },
    runtime: { tools: { allowPrivateNetworks: true, ...tools } },
  };
}

/** The scripted model started by {@link startScriptedModel}. */
export type ScriptedModel = Awaited<ReturnType<typeof startScriptedModel>>;

/** An MCP server, the scripted model and a Switchyard app routing `fake` to it. */
export interface AgentRig {
  mcp: TestMcpServer;
  model: ScriptedModel;
  app: RunningApp;
  /** Closes the app, then the model, then the MCP server. */
  close(): Promise<void>;
}

/**
 * Starts the usual agent test set-up: {@link startMcpServer}, {@link startScriptedModel} and
 * `startApp(agentConfig(model.url, tools))`. What started is closed again if a later step fails.
 */
export async function startAgentRig(tools: Record<string, unknown> = {}): Promise<AgentRig> {
  const mcp = await startMcpServer();
  let model: ScriptedModel | undefined;
  try {
    model = await startScriptedModel();
    const app = await startApp(agentConfig(model.url, tools));
    return {
      mcp,
      model,
      app,
      async close() {
        await app.close();
        await model!.close();
        await mcp.close();
      },
    };
  } catch (error) {
    await model?.close();
    await mcp.close();
    throw error;
  }
}

/** A store to run a `describe.each` against. */
export interface StoreBackend {
  name: string;
  open: () => Promise<Database>;
}

/**
 * The stores a store test runs on: in-memory SQLite, and a fresh Postgres database when one is
 * reachable (dropped after the file's tests; otherwise a warning says Postgres is skipped).
 * Call at the top level of a test file.
 */
export async function storeBackends(): Promise<StoreBackend[]> {
  const pgDatabase = await pgTestUrl();
  if (!pgDatabase) console.warn(PG_SKIP_MESSAGE);
  afterAll(async () => {
    await pgDatabase?.drop();
  });
  const stores: StoreBackend[] = [
    { name: 'sqlite', open: () => createDatabase('sqlite::memory:') },
  ];
  if (pgDatabase) stores.push({ name: 'postgres', open: () => createDatabase(pgDatabase.url) });
  return stores;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('waitFor timed out');
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** A `switchyard serve` child process and everything it printed. */
export type ServeProcess = ChildProcess & { output: () => string };

/**
 * Starts `switchyard serve --config <configPath> --port <port>` in a child process (through
 * tsx, from the sources), without the caller's SWITCHYARD_* variables; resolves once it
 * listens. Tests kill it with SIGKILL to simulate a crash.
 */
export async function spawnServe(
  configPath: string,
  port: number,
  cwd: string,
  startTimeoutMs = 60_000,
): Promise<ServeProcess> {
  const env = { ...process.env };
  delete env['SWITCHYARD_CONFIG'];
  delete env['SWITCHYARD_MASTER_KEY'];
  const child = spawn(
    process.execPath,
    ['--import', TSX_LOADER, MAIN, 'serve', '--config', configPath, '--port', String(port)],
    { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (data: Buffer) => void (output += data.toString()));
  child.stderr!.on('data', (data: Buffer) => void (output += data.toString()));
  const serve = Object.assign(child, { output: () => output });
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null)
          throw new Error(`serve exited with ${child.exitCode}:\n${output}`);
        return output.includes('Switchyard listening on') ? true : undefined;
      },
      startTimeoutMs,
      50,
    );
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }
  return serve;
}
