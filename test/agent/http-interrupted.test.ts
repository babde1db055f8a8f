import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpTool } from '../../src/runtime/tools/http-tools.js';
import { createAgentRunStore } from '../../src/store/runtime/agent-runs.js';
import { parseCreateResponse } from '../../src/surfaces/openai-responses/validate.js';
import { http, type RunningApp, startApp, TENANT_A_KEY } from '../runtime/helpers.js';
import { agentConfig, startScriptedModel, waitFor } from './helpers.js';

/**
 * Takeover of a run whose registered HTTP tool call was in flight when its owner died: repeated
 * once when the tool is registered idempotent; otherwise recorded as an interrupted error output
 * and, under `runtime.tools.interruptedCalls: fail`, the run fails after recording it.
 */

let model: Awaited<ReturnType<typeof startScriptedModel>>;
let toolServer: Server;
let toolUrl: string;
const received: string[] = [];

beforeAll(async () => {
  model = await startScriptedModel();
  toolServer = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => void (body += chunk.toString()));
    req.on('end', () => {
      received.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"answer":"looked up"}');
    });
  });
  await new Promise<void>((resolve) => toolServer.listen(0, '127.0.0.1', resolve));
  toolUrl = `http://127.0.0.1:${(toolServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await model?.close();
  toolServer?.closeAllConnections();
  await new Promise<void>((resolve) => toolServer?.close(() => resolve()));
});

/** Plants a background run whose `lookup` call was started by a dead owner, without a result. */
async function plantHttpRun(app: RunningApp, id: string, idempotent: boolean): Promise<void> {
  const principal = await app.app.gateway.authenticate(
    { kind: 'bearer', token: TENANT_A_KEY },
    '127.0.0.1',
  );
  const params = parseCreateResponse({
    model: 'fake',
    input: 'CALL lookup {"q":"x"}',
    background: true,
    tools: [
      {
        type: 'function',
        name: 'lookup',
        parameters: { type: 'object', properties: { q: { type: 'string' } } },
      },
    ],
  });
  const tool: HttpTool = {
    name: 'lookup',
    description: null,
    parameters: { type: 'object', properties: { q: { type: 'string' } } },
    url: `${toolUrl}/lookup`,
    authHeader: null,
    timeoutMs: 2000,
    idempotent,
    createdAt: 1,
  };
  const shell = {
    id,
    object: 'response',
    created_at: 1,
    status: 'in_progress',
    background: true,
    model: 'fake',
    output: [],
    usage: null,
    error: null,
    incomplete_details: null,
    completed_at: null,
    store: true,
  };
  const call = {
    id: 'fc_planted',
    type: 'function_call',
    status: 'calling',
    arguments: '{"q":"x"}',
    call_id: 'call_planted',
    name: 'lookup',
    _step: 1,
    _http: true,
  };
  const state = {
    history: [],
    input: [
      {
        id: 'msg_planted',
        type: 'message',
        role: 'user',
        content: [{ type: 'input_text', text: 'CALL lookup {"q":"x"}' }],
      },
    ],
    output: [call],
    usage: null,
    steps: 1,
    started: ['fc_planted'],
    events: [
      { type: 'response.created', response: { ...shell, status: 'queued' }, sequence_number: 0 },
    ],
    done: false,
  };
  await createAgentRunStore(app.app.database, app.app.runtime.agent.secrets).insert({
    id,
    tenantId: 'tenant-a',
    status: 'in_progress',
    background: true,
    request: { params, mcpTools: [], httpTools: [tool], principal, requestId: `req_${id}` },
    state,
    response: shell,
    events: state.events,
    owner: 'dead-owner',
    leaseExpiresAt: Date.now() - 1,
    now: Date.now(),
  });
}

async function ended(app: RunningApp, id: string): Promise<Record<string, any>> {
  return waitFor(async () => {
    const answer = await http(`${app.url}/v1/responses/${id}`);
    const body = answer.status === 200 ? answer.json() : undefined;
    return body && ['completed', 'failed'].includes(body.status) ? body : undefined;
  }, 15_000);
}

const outputs = (response: Record<string, any>) =>
  (response.output as Array<Record<string, unknown>>).filter(
    (item) => item['type'] === 'function_call_output',
  );

describe('an interrupted registered HTTP tool call', () => {
  it('is repeated once when the tool is idempotent, and not at all otherwise', async () => {
    const app = await startApp(agentConfig(model.url, { leaseMs: 500, workerIntervalMs: 100 }));
    try {
      received.length = 0;
      await plantHttpRun(app, 'resp_http_idem', true);
      const again = await ended(app, 'resp_http_idem');
      expect(again.status).toBe('completed');
      expect(received).toEqual(['{"q":"x"}']);
      expect(outputs(again)[0]).toMatchObject({
        call_id: 'call_planted',
        output: '{"answer":"looked up"}',
      });

      received.length = 0;
      await plantHttpRun(app, 'resp_http_once', false);
      const once = await ended(app, 'resp_http_once');
      expect(once.status).toBe('completed');
      expect(received).toEqual([]);
      expect(String(outputs(once)[0]!['output'])).toContain('interrupted');
    } finally {
      await app.close();
    }
  });

  it('fails the run under interruptedCalls: fail, with the interrupted call recorded first', async () => {
    const app = await startApp(
      agentConfig(model.url, { leaseMs: 500, workerIntervalMs: 100, interruptedCalls: 'fail' }),
    );
    try {
      received.length = 0;
      await plantHttpRun(app, 'resp_http_strict', false);
      const failed = await ended(app, 'resp_http_strict');
      expect(failed.status).toBe('failed');
      expect(String(failed.error.message)).toMatch(/'lookup' was interrupted/);
      expect(received).toEqual([]);
      expect(
        failed.output.find((item: Record<string, unknown>) => item['type'] === 'function_call'),
      ).toMatchObject({ id: 'fc_planted', status: 'completed' });
      expect(String(outputs(failed)[0]!['output'])).toContain('interrupted');
    } finally {
      await app.close();
    }
  });
});
