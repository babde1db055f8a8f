import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { http, parseSse, type RunningApp, TENANT_A_KEY, TENANT_B_KEY } from '../runtime/helpers.js';
import { type AgentRig, startAgentRig, type TestMcpServer, waitFor } from './helpers.js';

/** `background: true`: queued at once, run by the in-process worker, polled, cancelled, replayed live. */

let mcp: TestMcpServer;
let app: RunningApp;
let client: OpenAI;
let rig: AgentRig | undefined;

beforeAll(async () => {
  rig = await startAgentRig({ leaseMs: 2000, workerIntervalMs: 200 });
  ({ mcp, app } = rig);
  client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await rig?.close();
});
beforeEach(() => {
  mcp.calls.length = 0;
});

const tools = () => [
  {
    type: 'mcp' as const,
    server_label: 'calc',
    server_url: mcp.url,
    require_approval: 'never' as const,
  },
];
const slowSteps = (count: number, ms: number) =>
  Array.from({ length: count }, (_, index) => `CALL slow {"ms":${ms},"tag":"s${index}"}`).join(
    '; ',
  );

async function poll(
  id: string,
  statuses = ['completed', 'failed', 'cancelled', 'incomplete'],
): Promise<OpenAI.Responses.Response> {
  return waitFor(async () => {
    const current = await client.responses.retrieve(id);
    return statuses.includes(current.status ?? '') ? current : undefined;
  }, 20_000);
}

describe('background responses', () => {
  it('returns queued at once and completes in the background (plain model call)', async () => {
    const created = await client.responses.create({
      model: 'fake',
      input: 'hello there',
      background: true,
    });
    expect(created.status).toBe('queued');
    expect(created.background).toBe(true);
    const done = await poll(created.id);
    expect(done.status).toBe('completed');
    expect(done.output_text).toBe('no tools: hello there');
    // Another tenant cannot see it.
    expect(
      (await http(`${app.url}/v1/responses/${created.id}`, { key: TENANT_B_KEY })).status,
    ).toBe(404);
  });

  it('runs a multi-step MCP loop in the background; GET shows progress', async () => {
    const created = await client.responses.create({
      model: 'fake',
      input: slowSteps(3, 150),
      background: true,
      tools: tools(),
    });
    const midway = await waitFor(async () => {
      const current = await client.responses.retrieve(created.id);
      return current.status === 'in_progress' &&
        current.output.some((item) => item.type === 'mcp_call' && item.status === 'completed')
        ? current
        : undefined;
    });
    expect(midway.status).toBe('in_progress');
    const done = await poll(created.id);
    expect(done.output_text).toBe('final: slow done s2');
    expect(mcp.calls.map((call) => call.args['tag'])).toEqual(['s0', 's1', 's2']);
  });

  it('cancels between steps and at the in-flight call; cancel is idempotent', async () => {
    const created = await client.responses.create({
      model: 'fake',
      input: slowSteps(6, 300),
      background: true,
      tools: tools(),
    });
    await waitFor(() => (mcp.calls.length >= 1 ? true : undefined));
    const cancelled = await client.responses.cancel(created.id);
    expect(cancelled.status).toBe('cancelled');
    const callsAtCancel = mcp.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect(mcp.calls.length).toBe(callsAtCancel);
    expect(callsAtCancel).toBeLessThan(6);
    const final = await client.responses.retrieve(created.id);
    expect(final.status).toBe('cancelled');
    // Every item is terminal: an MCP call cut off by the cancel is not left `calling` (issue 21).
    for (const item of final.output)
      expect(['calling', 'in_progress']).not.toContain((item as { status?: string }).status);
    const again = await client.responses.cancel(created.id);
    expect(again.status).toBe('cancelled');
  });

  it('approval round trip in background mode', async () => {
    const gated = [
      {
        type: 'mcp' as const,
        server_label: 'calc',
        server_url: mcp.url,
        require_approval: 'always' as const,
      },
    ];
    const first = await client.responses.create({
      model: 'fake',
      input: 'CALL add {"a":5,"b":6}',
      background: true,
      tools: gated,
    });
    const asked = await poll(first.id);
    const request = asked.output.find((item) => item.type === 'mcp_approval_request')!;
    expect(request).toMatchObject({ name: 'add' });
    const second = await client.responses.create({
      model: 'fake',
      previous_response_id: first.id,
      background: true,
      tools: gated,
      input: [{ type: 'mcp_approval_response', approval_request_id: request.id!, approve: true }],
    });
    const done = await poll(second.id);
    expect(done.output_text).toBe('final: 11');
    expect(mcp.calls.map((call) => call.name)).toEqual(['add']);
  });

  it('refuses to cancel a response that was not created in the background', async () => {
    const plain = await client.responses.create({ model: 'fake', input: 'plain' });
    await expect(client.responses.cancel(plain.id)).rejects.toMatchObject({ status: 400 });
  });

  it('streams a background run (openai SDK) and replays it from starting_after while it runs', async () => {
    const stream = client.responses.stream({
      model: 'fake',
      input: slowSteps(2, 200),
      background: true,
      tools: tools(),
    });
    const types: string[] = [];
    let id = '';
    let replayed: Promise<{ text: string }> | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.created') id = event.response.id;
      if (event.type === 'response.mcp_call.in_progress' && !replayed)
        replayed = http(`${app.url}/v1/responses/${id}?stream=true&starting_after=2`);
    }
    expect(types.slice(0, 3)).toEqual([
      'response.created',
      'response.queued',
      'response.in_progress',
    ]);
    expect(types.at(-1)).toBe('response.completed');
    const live = parseSse((await replayed!).text).map((event) => event.data);
    expect(live[0]!['sequence_number']).toBe(3);
    expect(live.map((event) => event['type'])).toEqual(types.slice(3));
    expect(live.at(-1)!['type']).toBe('response.completed');

    // The openai SDK's resume helper (wants the whole replay, filters locally).
    const resumed = client.responses.stream({ response_id: id, starting_after: 5 });
    const again: number[] = [];
    for await (const event of resumed) again.push(event.sequence_number);
    expect(again[0]).toBe(6);
    expect((await resumed.finalResponse()).output_text).toBe('final: slow done s1');
  });
});
