import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentRunStore } from '../../src/store/runtime/agent-runs.js';
import { parseCreateResponse } from '../../src/surfaces/openai-responses/validate.js';
import { http, type RunningApp, startApp, TENANT_A_KEY } from '../runtime/helpers.js';
import {
  agentConfig,
  type AgentRig,
  type ScriptedModel,
  startAgentRig,
  type TestMcpServer,
  waitFor,
} from './helpers.js';

/**
 * Takeover from a checkpoint left by a dead owner: a tool call recorded as started but without
 * a result is never repeated (recorded failed, "interrupted"); a call recorded but not started
 * is made once.
 */

let mcp: TestMcpServer;
let model: ScriptedModel;
let app: RunningApp;
let rig: AgentRig | undefined;

beforeAll(async () => {
  rig = await startAgentRig({ leaseMs: 500, workerIntervalMs: 100 });
  ({ mcp, model, app } = rig);
});
afterAll(async () => {
  await rig?.close();
});

async function plantRun(
  id: string,
  calls: Array<{ id: string; started: boolean; tag: string }>,
  options: { idempotent?: boolean; target?: RunningApp } = {},
) {
  const target = options.target ?? app;
  const principal = await target.app.gateway.authenticate(
    { kind: 'bearer', token: TENANT_A_KEY },
    '127.0.0.1',
  );
  const script = calls.map((call) => `CALL slow {"ms":10,"tag":"${call.tag}"}`).join('; ');
  const params = parseCreateResponse({
    model: 'fake',
    input: script,
    background: true,
    tools: [{ type: 'mcp', server_label: 'calc', server_url: mcp.url, require_approval: 'never' }],
  });
  const tools = [
    {
      name: 'slow',
      input_schema: {
        type: 'object',
        properties: { ms: { type: 'number' }, tag: { type: 'string' } },
      },
      ...(options.idempotent ? { annotations: { idempotentHint: true } } : {}),
    },
  ];
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
  const output = [
    { id: 'mcpl_planted', type: 'mcp_list_tools', server_label: 'calc', tools },
    ...calls.map((call, index) => ({
      id: call.id,
      type: 'mcp_call',
      server_label: 'calc',
      name: 'slow',
      arguments: `{"ms":10,"tag":"${call.tag}"}`,
      output: null,
      error: null,
      status: 'calling',
      _step: index + 1,
    })),
  ];
  const state = {
    history: [],
    input: [
      {
        id: 'msg_planted',
        type: 'message',
        role: 'user',
        content: [{ type: 'input_text', text: script }],
      },
    ],
    output,
    usage: null,
    steps: calls.length,
    started: calls.filter((call) => call.started).map((call) => call.id),
    events: [
      { type: 'response.created', response: { ...shell, status: 'queued' }, sequence_number: 0 },
    ],
    done: false,
  };
  await createAgentRunStore(target.app.database, target.app.runtime.agent.secrets).insert({
    id,
    tenantId: 'tenant-a',
    status: 'in_progress',
    background: true,
    request: { params, mcpTools: params.mcpTools, principal, requestId: 'req_planted' },
    state,
    response: shell,
    events: state.events,
    owner: 'dead-owner',
    leaseExpiresAt: Date.now() - 1,
    now: Date.now(),
  });
}

describe('takeover from a checkpoint', () => {
  it('does not repeat a started call without a result; runs a recorded, unstarted one once', async () => {
    await plantRun('resp_planted1', [
      { id: 'mcp_started', started: true, tag: 'first' },
      { id: 'mcp_unstarted', started: false, tag: 'second' },
    ]);
    const done = await waitFor(async () => {
      const answer = await http(`${app.url}/v1/responses/resp_planted1`);
      const body = answer.status === 200 ? answer.json() : undefined;
      return body && body.status === 'completed' ? body : undefined;
    }, 15_000);
    expect(mcp.calls.map((call) => call.args['tag'])).toEqual(['second']);
    const calls = (done.output as Array<Record<string, unknown>>).filter(
      (item) => item['type'] === 'mcp_call',
    );
    expect(calls[0]).toMatchObject({ id: 'mcp_started', status: 'failed' });
    expect(String(calls[0]!['error'])).toContain('interrupted');
    expect(calls[1]).toMatchObject({
      id: 'mcp_unstarted',
      status: 'completed',
      output: 'slow done second',
    });
    expect(JSON.stringify(done.output)).not.toContain('_step');
  });

  it('repeats an interrupted call when the MCP server marks the tool idempotent (annotations.idempotentHint)', async () => {
    mcp.calls.length = 0;
    await plantRun('resp_planted2', [{ id: 'mcp_started_idem', started: true, tag: 'again' }], {
      idempotent: true,
    });
    const done = await waitFor(async () => {
      const answer = await http(`${app.url}/v1/responses/resp_planted2`);
      const body = answer.status === 200 ? answer.json() : undefined;
      return body && body.status === 'completed' ? body : undefined;
    }, 15_000);
    expect(mcp.calls.map((call) => call.args['tag'])).toEqual(['again']);
    const calls = (done.output as Array<Record<string, unknown>>).filter(
      (item) => item['type'] === 'mcp_call',
    );
    expect(calls[0]).toMatchObject({
      id: 'mcp_started_idem',
      status: 'completed',
      output: 'slow done again',
    });
  });

  it('fails the run on an interrupted non-idempotent call under runtime.tools.interruptedCalls: fail', async () => {
    const strict = await startApp(
      agentConfig(model.url, { leaseMs: 500, workerIntervalMs: 100, interruptedCalls: 'fail' }),
    );
    try {
      mcp.calls.length = 0;
      await plantRun('resp_planted3', [{ id: 'mcp_started_strict', started: true, tag: 'never' }], {
        target: strict,
      });
      const done = await waitFor(async () => {
        const answer = await http(`${strict.url}/v1/responses/resp_planted3`);
        const body = answer.status === 200 ? answer.json() : undefined;
        return body && body.status === 'failed' ? body : undefined;
      }, 15_000);
      // The Response error code stays in the spec's enum; the message says what happened.
      expect(done.error).toMatchObject({ code: 'tool_call_interrupted' });
      expect(String(done.error.message)).toMatch(
        /'slow' was interrupted.*interruptedCalls is "fail"/,
      );
      expect(mcp.calls).toHaveLength(0);
      const calls = (done.output as Array<Record<string, unknown>>).filter(
        (item) => item['type'] === 'mcp_call',
      );
      expect(calls[0]).toMatchObject({ id: 'mcp_started_strict', status: 'failed' });
    } finally {
      await strict.close();
    }
  });
});
