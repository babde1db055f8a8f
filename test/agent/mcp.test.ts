import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { http, parseSse, type RunningApp, TENANT_A_KEY } from '../runtime/helpers.js';
import { type AgentRig, type ScriptedModel, startAgentRig, type TestMcpServer } from './helpers.js';

/** MCP tools in POST /v1/responses, server-run, driven through the real `openai` SDK. */

let mcp: TestMcpServer;
let model: ScriptedModel;
let app: RunningApp;
let client: OpenAI;
let rig: AgentRig | undefined;

beforeAll(async () => {
  rig = await startAgentRig({ maxOutputChars: 1000, maxSteps: 4 });
  ({ mcp, model, app } = rig);
  client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await rig?.close();
});
beforeEach(() => {
  mcp.calls.length = 0;
  model.requests.length = 0;
});

const SECRET = 'Bearer mcp-secret-value-123';
const tool = (extra: Record<string, unknown> = {}) =>
  ({
    type: 'mcp',
    server_label: 'calc',
    server_url: mcp.url,
    headers: { Authorization: SECRET },
    require_approval: 'never',
    ...extra,
  }) as OpenAI.Responses.Tool.Mcp;

describe('mcp tools', () => {
  it('lists tools, calls one, feeds the result back and answers (openai SDK)', async () => {
    const response = await client.responses.create({
      model: 'fake',
      input: 'CALL add {"a":2,"b":3}',
      tools: [tool()],
    });
    expect(response.status).toBe('completed');
    expect(response.output.map((item) => item.type)).toEqual([
      'mcp_list_tools',
      'mcp_call',
      'message',
    ]);
    const list = response.output[0] as OpenAI.Responses.ResponseOutputItem.McpListTools;
    expect(list.server_label).toBe('calc');
    expect(list.tools.map((entry) => entry.name)).toEqual(['add', 'echo', 'slow', 'fail', 'big']);
    const call = response.output[1] as OpenAI.Responses.ResponseOutputItem.McpCall;
    expect(call).toMatchObject({
      name: 'add',
      server_label: 'calc',
      arguments: '{"a":2,"b":3}',
      output: '5',
      status: 'completed',
    });
    expect(response.output_text).toBe('final: 5');
    // The model saw the MCP tools as function tools, and the result as a tool message.
    expect(model.requests[0]!.tools!.map((entry) => entry.function.name)).toContain('add');
    expect(model.requests[1]!.messages.at(-1)).toMatchObject({ role: 'tool', content: '5' });
    expect(mcp.calls).toHaveLength(1);
    expect(mcp.calls[0]!.headers['authorization']).toBe(SECRET);
    // Secrets are used, never stored or echoed.
    const stored = await http(`${app.url}/v1/responses/${response.id}`);
    expect(stored.text).not.toContain('mcp-secret-value');
    expect(JSON.stringify(response)).not.toContain('mcp-secret-value');
    const replay = await http(`${app.url}/v1/responses/${response.id}?stream=true`);
    expect(replay.text).not.toContain('mcp-secret-value');
    expect(response.usage?.total_tokens).toBe(30);
  });

  it('runs several steps, records a failing tool as an error and continues', async () => {
    const response = await client.responses.create({
      model: 'fake',
      input: 'CALL echo {"text":"hi"}; CALL fail {}',
      tools: [tool()],
    });
    const calls = response.output.filter(
      (item) => item.type === 'mcp_call',
    ) as OpenAI.Responses.ResponseOutputItem.McpCall[];
    expect(calls.map((call) => [call.name, call.status])).toEqual([
      ['echo', 'completed'],
      ['fail', 'failed'],
    ]);
    expect(calls[1]!.error).toContain('failed on purpose');
    expect(response.output_text).toContain('Error: the tool failed on purpose');
  });

  it('honours allowed_tools and truncates large output', async () => {
    const response = await client.responses.create({
      model: 'fake',
      input: 'CALL big {"n":5000}',
      tools: [tool({ allowed_tools: ['big', 'add'] })],
    });
    const list = response.output[0] as OpenAI.Responses.ResponseOutputItem.McpListTools;
    expect(list.tools.map((entry) => entry.name)).toEqual(['add', 'big']);
    const call = response.output[1] as OpenAI.Responses.ResponseOutputItem.McpCall;
    expect(call.output!.length).toBeLessThan(1100);
    expect(call.output).toContain('[truncated 4000 characters]');
  });

  it('caps the number of model calls', async () => {
    const response = await client.responses.create({
      model: 'fake',
      input:
        'CALL echo {"text":"1"}; CALL echo {"text":"2"}; CALL echo {"text":"3"}; CALL echo {"text":"4"}; CALL echo {"text":"5"}',
      tools: [tool()],
    });
    expect(model.requests).toHaveLength(4);
    expect(mcp.calls).toHaveLength(4);
    expect(response.status).toBe('completed');
    // The loop's private bookkeeping never reaches the client.
    expect(JSON.stringify(response.output)).not.toMatch(/"_step"|"_http"/);
  });

  it('asks for approval, ends the response, and resumes on approve (previous_response_id)', async () => {
    const first = await client.responses.create({
      model: 'fake',
      input: 'CALL add {"a":1,"b":41}',
      tools: [tool({ require_approval: 'always' })],
    });
    expect(first.status).toBe('completed');
    expect(first.output.map((item) => item.type)).toEqual([
      'mcp_list_tools',
      'mcp_approval_request',
    ]);
    const ask = first.output[1] as OpenAI.Responses.ResponseOutputItem.McpApprovalRequest;
    expect(ask).toMatchObject({ name: 'add', server_label: 'calc', arguments: '{"a":1,"b":41}' });
    expect(ask.id).toMatch(/^mcpr_/);
    expect(mcp.calls).toHaveLength(0);

    const listsBefore = mcp.listCount;
    const second = await client.responses.create({
      model: 'fake',
      previous_response_id: first.id,
      input: [{ type: 'mcp_approval_response', approval_request_id: ask.id, approve: true }],
      tools: [tool({ require_approval: 'always' })],
    });
    expect(mcp.listCount).toBe(listsBefore); // the listing is reused from the chain
    expect(second.output.map((item) => item.type)).toEqual(['mcp_call', 'message']);
    expect(second.output[0]).toMatchObject({
      name: 'add',
      output: '42',
      approval_request_id: ask.id,
    });
    expect(second.output_text).toBe('final: 42');
    expect(mcp.calls).toHaveLength(1);
  });

  it('tells the model when a call is denied', async () => {
    const first = await client.responses.create({
      model: 'fake',
      input: 'CALL add {"a":1,"b":1}',
      tools: [tool({ require_approval: { never: { tool_names: ['echo'] } } })],
    });
    const ask = first.output.find((item) => item.type === 'mcp_approval_request')!;
    const second = await client.responses.create({
      model: 'fake',
      previous_response_id: first.id,
      input: [{ type: 'mcp_approval_response', approval_request_id: ask.id!, approve: false }],
      tools: [tool({ require_approval: { never: { tool_names: ['echo'] } } })],
    });
    expect(mcp.calls).toHaveLength(0);
    expect(second.output_text).toContain('denied');
  });

  it('per-tool approval: never-listed tools run without asking', async () => {
    const response = await client.responses.create({
      model: 'fake',
      input: 'CALL echo {"text":"free"}',
      tools: [tool({ require_approval: { never: { tool_names: ['echo'] } } })],
    });
    expect(response.output_text).toBe('final: free');
  });

  it('streams the run with mcp events (openai SDK stream helper)', async () => {
    const stream = client.responses.stream({
      model: 'fake',
      input: 'CALL add {"a":20,"b":22}',
      tools: [tool()],
    });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalResponse();
    expect(final.output_text).toBe('final: 42');
    expect(types[0]).toBe('response.created');
    expect(types).toContain('response.mcp_list_tools.completed');
    expect(types).toContain('response.mcp_call_arguments.done');
    expect(types).toContain('response.mcp_call.completed');
    expect(types.at(-1)).toBe('response.completed');
    const replay = await http(`${app.url}/v1/responses/${final.id}?stream=true`);
    expect(parseSse(replay.text).map((event) => event.data['type'])).toEqual(types);
  });

  it('falls back to the legacy SSE transport', async () => {
    const response = await client.responses.create({
      model: 'fake',
      input: 'CALL add {"a":1,"b":2}',
      tools: [tool({ server_url: mcp.sseUrl })],
    });
    expect(response.output_text).toBe('final: 3');
  });

  it('answers 424 when the server cannot be listed, as OpenAI does', async () => {
    // Unreachable (a closed port) and refused by the SSRF policy (cloud metadata address).
    for (const url of ['http://127.0.0.1:1/mcp', 'http://169.254.169.254/mcp']) {
      const failure = await client.responses
        .create({
          model: 'fake',
          input: 'CALL add {"a":1,"b":2}',
          tools: [tool({ server_url: url })],
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failure).toBeInstanceOf(OpenAI.APIError);
      expect(failure).toMatchObject({
        status: 424,
        type: 'external_connector_error',
        param: 'tools',
      });
      expect((failure as Error).message).toContain(
        "Error retrieving tool list from MCP server: 'calc'",
      );
    }
    expect(model.requests).toHaveLength(0);
  });

  it('answers 424 before the stream starts when the server cannot be listed (stream: true)', async () => {
    // OpenAI lists the tools before it commits the stream, so the SDK's create() rejects with an
    // APIError (status 424) rather than a 200 stream ending in an error event.
    for (const url of ['http://127.0.0.1:1/mcp', 'http://169.254.169.254/mcp']) {
      const failure = await client.responses
        .create({
          model: 'fake',
          input: 'CALL add {"a":1,"b":2}',
          tools: [tool({ server_url: url })],
          stream: true,
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failure).toBeInstanceOf(OpenAI.APIError);
      expect(failure).toMatchObject({
        status: 424,
        type: 'external_connector_error',
        param: 'tools',
      });
      expect((failure as Error).message).toContain(
        "Error retrieving tool list from MCP server: 'calc'",
      );
    }
    expect(model.requests).toHaveLength(0);
    // A readable server still streams: the listing events come first, then the model's answer.
    const stream = await client.responses.create({
      model: 'fake',
      input: 'CALL add {"a":1,"b":2}',
      tools: [tool()],
      stream: true,
    });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types[0]).toBe('response.created');
    expect(types).toContain('response.mcp_list_tools.completed');
    expect(types.at(-1)).toBe('response.completed');
  });

  it('streams a client function call among MCP tools as added, arguments delta and done, then done', async () => {
    const stream = await client.responses.create({
      model: 'fake',
      input: 'CALL lookup {"q":"rome"}',
      tools: [
        tool(),
        { type: 'function', name: 'lookup', parameters: { type: 'object' }, strict: false },
      ],
      stream: true,
    });
    const events: Array<Record<string, unknown>> = [];
    for await (const event of stream) events.push(event as unknown as Record<string, unknown>);
    const call = events.filter((event) => {
      const type = String(event['type']);
      return (
        type.startsWith('response.function_call') ||
        (type.startsWith('response.output_item.') &&
          (event['item'] as { type?: string }).type === 'function_call')
      );
    });
    expect(call.map((event) => event['type'])).toEqual([
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
    ]);
    const index = call[0]!['output_index'];
    expect(call.every((event) => event['output_index'] === index)).toBe(true);
    expect(call[0]!['item']).toMatchObject({
      type: 'function_call',
      name: 'lookup',
      arguments: '',
      status: 'in_progress',
    });
    const id = (call[0]!['item'] as { id: string }).id;
    expect(call[1]).toMatchObject({ item_id: id, delta: '{"q":"rome"}' });
    expect(call[2]).toMatchObject({ item_id: id, name: 'lookup', arguments: '{"q":"rome"}' });
    expect(call[3]!['item']).toMatchObject({
      id,
      type: 'function_call',
      name: 'lookup',
      arguments: '{"q":"rome"}',
      status: 'completed',
    });
    expect(mcp.calls).toHaveLength(0);
  });

  it('ends a run that reaches maxSteps (4 here) as completed, with the calls made so far', async () => {
    const script = [1, 2, 3, 4, 5].map((n) => `CALL add {"a":${n},"b":${n}}`).join('; ');
    const response = await client.responses.create({
      model: 'fake',
      input: script,
      tools: [tool()],
    });
    expect(model.requests).toHaveLength(4);
    expect(response.status).toBe('completed');
    expect(response.incomplete_details).toBeNull();
    expect(response.output.map((item) => item.type)).toEqual([
      'mcp_list_tools',
      'mcp_call',
      'mcp_call',
      'mcp_call',
      'mcp_call',
    ]);
    expect(
      response.output
        .slice(1)
        .map((item) => (item as OpenAI.Responses.ResponseOutputItem.McpCall).output),
    ).toEqual(['2', '4', '6', '8']);
  });
});
