import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { http, type RunningApp, startApp, TENANT_A_KEY } from '../runtime/helpers.js';
import { agentConfig, startMcpServer, startScriptedModel, type TestMcpServer } from './helpers.js';

/**
 * A client that keeps its own state (`store: false`, or simply no `previous_response_id`) sends
 * the whole item list back as `input`, MCP items included: Switchyard validates them, reuses a
 * listed tool list instead of listing the server again, runs an approval found in the input
 * once, and answers a malformed item with a 400 in the API's error shape. Driven through the
 * real `openai` SDK.
 */

let mcp: TestMcpServer;
let model: Awaited<ReturnType<typeof startScriptedModel>>;
let app: RunningApp;
let client: OpenAI;

beforeAll(async () => {
  mcp = await startMcpServer();
  model = await startScriptedModel();
  app = await startApp(agentConfig(model.url));
  client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await app?.close();
  await model?.close();
  await mcp?.close();
});
beforeEach(() => {
  mcp.calls.length = 0;
  model.requests.length = 0;
});

type Input = OpenAI.Responses.ResponseInputItem;
const SCRIPT = 'CALL add {"a":2,"b":3}; CALL echo {"text":"again"}';
/** `add` runs freely, `echo` needs an approval. */
const tools = (extra: Record<string, unknown> = {}) =>
  [
    {
      type: 'mcp',
      server_label: 'calc',
      server_url: mcp.url,
      require_approval: { never: { tool_names: ['add'] } },
      ...extra,
    },
  ] as OpenAI.Responses.Tool[];
/** Output items as a client sends them back. */
const asInput = (items: OpenAI.Responses.ResponseOutputItem[]) => items as unknown as Input[];

describe.each([
  { store: false, label: 'store: false' },
  { store: true, label: 'store: true, no previous_response_id' },
])('mcp items sent back as input ($label)', ({ store }) => {
  it('reuses the listing, resumes the approval from the input, and never repeats a call', async () => {
    const user: Input = { type: 'message', role: 'user', content: SCRIPT };
    const first = await client.responses.create({
      model: 'fake',
      store,
      input: [user],
      tools: tools(),
    });
    expect(first.output.map((item) => item.type)).toEqual([
      'mcp_list_tools',
      'mcp_call',
      'mcp_approval_request',
    ]);
    const ask = first.output[2] as OpenAI.Responses.ResponseOutputItem.McpApprovalRequest;
    expect(ask).toMatchObject({ name: 'echo', arguments: '{"text":"again"}' });
    expect(mcp.calls.map((call) => call.name)).toEqual(['add']);
    const lists = mcp.listCount;

    // Everything back, plus the approval: no previous_response_id.
    const secondInput: Input[] = [
      user,
      ...asInput(first.output),
      { type: 'mcp_approval_response', approval_request_id: ask.id, approve: true },
    ];
    const second = await client.responses.create({
      model: 'fake',
      store,
      input: secondInput,
      tools: tools(),
    });
    expect(second.status).toBe('completed');
    expect(mcp.listCount).toBe(lists); // the listing in the input was reused
    expect(second.output.map((item) => item.type)).toEqual(['mcp_call', 'message']);
    expect(second.output[0]).toMatchObject({
      name: 'echo',
      output: 'again',
      approval_request_id: ask.id,
      status: 'completed',
    });
    expect(second.output_text).toBe('final: again');
    expect(mcp.calls.map((call) => call.name)).toEqual(['add', 'echo']);
    // The model saw the earlier call and its result, then the approved one.
    const last = model.requests.at(-1)!;
    expect(
      last.messages.filter((message) => message.role === 'tool').map((message) => message.content),
    ).toEqual(['5', 'again']);
    expect(last.tools!.map((tool) => tool.function.name)).toEqual([
      'add',
      'echo',
      'slow',
      'fail',
      'big',
    ]);

    // The next turn sends the approval back again with everything else: it is not run twice.
    const third = await client.responses.create({
      model: 'fake',
      store,
      input: [
        ...secondInput,
        ...asInput(second.output),
        { type: 'message', role: 'user', content: 'thanks' },
      ],
      tools: tools(),
    });
    expect(third.status).toBe('completed');
    expect(third.output.map((item) => item.type)).toEqual(['message']);
    expect(mcp.calls.map((call) => call.name)).toEqual(['add', 'echo']);
    expect(mcp.listCount).toBe(lists);

    // Stored or not as asked.
    expect((await http(`${app.url}/v1/responses/${second.id}`)).status).toBe(store ? 200 : 404);
  });

  it('tells the model about a denial found in the input, without calling the tool', async () => {
    const user: Input = { type: 'message', role: 'user', content: 'CALL echo {"text":"secret"}' };
    const first = await client.responses.create({
      model: 'fake',
      store,
      input: [user],
      tools: tools(),
    });
    const ask = first.output.find((item) => item.type === 'mcp_approval_request')!;
    const second = await client.responses.create({
      model: 'fake',
      store,
      input: [
        user,
        ...asInput(first.output),
        {
          type: 'mcp_approval_response',
          approval_request_id: ask.id!,
          approve: false,
          reason: 'no',
        },
      ],
      tools: tools(),
    });
    expect(mcp.calls).toHaveLength(0);
    expect(second.output_text).toContain('denied');
  });
});

describe('a listing in the input', () => {
  it("is filtered by this request's allowed_tools, and is used without contacting the server", async () => {
    const listing: Input = {
      type: 'mcp_list_tools',
      id: 'mcpl_client_kept',
      server_label: 'calc',
      tools: [
        {
          name: 'add',
          input_schema: {
            type: 'object',
            properties: { a: { type: 'number' }, b: { type: 'number' } },
          },
        },
        {
          name: 'echo',
          input_schema: { type: 'object', properties: { text: { type: 'string' } } },
          description: 'Echoes',
          annotations: null,
        },
      ],
    };
    const lists = mcp.listCount;
    const response = await client.responses.create({
      model: 'fake',
      store: false,
      input: [{ type: 'message', role: 'user', content: 'CALL add {"a":20,"b":22}' }, listing],
      tools: tools({ allowed_tools: ['add'], require_approval: 'never' }),
    });
    expect(response.output_text).toBe('final: 42');
    expect(response.output.map((item) => item.type)).toEqual(['mcp_call', 'message']);
    expect(mcp.listCount).toBe(lists);
    expect(model.requests[0]!.tools!.map((tool) => tool.function.name)).toEqual(['add']);
  });

  it('a client that sends only MCP history (no mcp tool this turn) is answered from it', async () => {
    const first = await client.responses.create({
      model: 'fake',
      store: false,
      input: 'CALL add {"a":1,"b":1}',
      tools: tools({ require_approval: 'never' }),
    });
    const again = await client.responses.create({
      model: 'fake',
      store: false,
      input: [
        { type: 'message', role: 'user', content: 'CALL add {"a":1,"b":1}' },
        ...asInput(first.output),
        { type: 'message', role: 'user', content: 'and now?' },
      ],
    });
    expect(again.status).toBe('completed');
    expect(again.output_text).toBe('final: 2');
    expect(mcp.calls).toHaveLength(1);
  });
});

describe('malformed mcp items are a 400 in the API error shape', () => {
  const user: Input = { type: 'message', role: 'user', content: 'CALL add {"a":1,"b":2}' };
  const cases: Array<{
    name: string;
    item: Record<string, unknown>;
    param: string;
    code: string | null;
  }> = [
    {
      name: 'mcp_list_tools without tools',
      item: { type: 'mcp_list_tools', id: 'mcpl_1', server_label: 'calc' },
      param: 'input[1].tools',
      code: 'missing_required_parameter',
    },
    {
      name: 'mcp_list_tools whose tool has no input_schema',
      item: {
        type: 'mcp_list_tools',
        id: 'mcpl_1',
        server_label: 'calc',
        tools: [{ name: 'add' }],
      },
      param: 'input[1].tools[0].input_schema',
      code: 'missing_required_parameter',
    },
    {
      name: 'mcp_list_tools with tools not an array',
      item: { type: 'mcp_list_tools', id: 'mcpl_1', server_label: 'calc', tools: { add: {} } },
      param: 'input[1].tools',
      code: 'invalid_type',
    },
    {
      name: 'mcp_list_tools without id',
      item: { type: 'mcp_list_tools', server_label: 'calc', tools: [] },
      param: 'input[1].id',
      code: 'missing_required_parameter',
    },
    {
      name: 'mcp_call with object arguments',
      item: {
        type: 'mcp_call',
        id: 'mcp_1',
        server_label: 'calc',
        name: 'add',
        arguments: { a: 1 },
      },
      param: 'input[1].arguments',
      code: 'invalid_type',
    },
    {
      name: 'mcp_call without server_label',
      item: { type: 'mcp_call', id: 'mcp_1', name: 'add', arguments: '{}' },
      param: 'input[1].server_label',
      code: 'missing_required_parameter',
    },
    {
      name: 'mcp_call with an unknown status',
      item: {
        type: 'mcp_call',
        id: 'mcp_1',
        server_label: 'calc',
        name: 'add',
        arguments: '{}',
        status: 'done',
      },
      param: 'input[1].status',
      code: null,
    },
    {
      name: 'mcp_approval_request without name',
      item: { type: 'mcp_approval_request', id: 'mcpr_1', server_label: 'calc', arguments: '{}' },
      param: 'input[1].name',
      code: 'missing_required_parameter',
    },
    {
      name: 'mcp_approval_response without approve',
      item: { type: 'mcp_approval_response', approval_request_id: 'mcpr_1' },
      param: 'input',
      code: null,
    },
    {
      name: 'an approval of a request nowhere in the chain or input',
      item: { type: 'mcp_approval_response', approval_request_id: 'mcpr_unknown', approve: true },
      param: 'input',
      code: null,
    },
  ];

  it.each(cases)('$name', async ({ item, param, code }) => {
    const error = await client.responses
      .create({
        model: 'fake',
        store: false,
        input: [user, item as unknown as Input],
        tools: tools(),
      })
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const bad = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad.status).toBe(400);
    expect(bad.error).toMatchObject({ type: 'invalid_request_error', param });
    if (code !== null) expect(bad.code).toBe(code);
    expect(typeof (bad.error as { message?: unknown }).message).toBe('string');
    expect(mcp.calls).toHaveLength(0);
    expect(model.requests).toHaveLength(0);
  });

  it('an approval for a server not in tools', async () => {
    const ask = {
      type: 'mcp_approval_request',
      id: 'mcpr_other',
      server_label: 'elsewhere',
      name: 'add',
      arguments: '{"a":1,"b":2}',
    };
    const answer = await http(`${app.url}/v1/responses`, {
      body: {
        model: 'fake',
        store: false,
        input: [
          user,
          ask,
          { type: 'mcp_approval_response', approval_request_id: 'mcpr_other', approve: true },
        ],
        tools: tools(),
      },
    });
    expect(answer.status).toBe(400);
    expect(answer.json()).toEqual({
      error: {
        message: expect.stringContaining("'elsewhere'"),
        type: 'invalid_request_error',
        param: 'tools',
        code: 'invalid_value',
      },
    });
    expect(mcp.calls).toHaveLength(0);
  });
});
