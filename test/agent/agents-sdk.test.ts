import { Agent, hostedMcpTool, OpenAIProvider, Runner, setTracingDisabled } from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, TENANT_A_KEY } from '../runtime/helpers.js';
import { type AgentRig, startAgentRig, type TestMcpServer } from './helpers.js';

/** @openai/agents hosted MCP tools, run by Switchyard. */

setTracingDisabled(true);

let mcp: TestMcpServer;
let app: RunningApp;
let rig: AgentRig | undefined;

beforeAll(async () => {
  rig = await startAgentRig();
  ({ mcp, app } = rig);
});
afterAll(async () => {
  await rig?.close();
});

describe('@openai/agents hosted MCP', () => {
  it('runs an agent whose hosted MCP tool Switchyard calls', async () => {
    const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
    const runner = new Runner({
      modelProvider: new OpenAIProvider({ openAIClient: client, useResponses: true }),
      tracingDisabled: true,
    });
    const agent = new Agent({
      name: 'Calculator',
      instructions: 'Use the tools.',
      model: 'fake',
      tools: [
        hostedMcpTool({
          serverLabel: 'calc',
          serverUrl: mcp.url,
          requireApproval: 'never',
          headers: { 'x-api-key': 'agents-secret' },
        }),
      ],
    });
    const result = await runner.run(agent, 'CALL add {"a":40,"b":2}');
    expect(result.finalOutput).toBe('final: 42');
    expect(mcp.calls.map((call) => call.name)).toEqual(['add']);
    expect(mcp.calls[0]!.headers['x-api-key']).toBe('agents-secret');
    const types = result.newItems.map((item) => item.type);
    expect(types).toContain('message_output_item');
  });

  it('streams an agent run with a hosted MCP tool', async () => {
    const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
    const runner = new Runner({
      modelProvider: new OpenAIProvider({ openAIClient: client, useResponses: true }),
      tracingDisabled: true,
    });
    const agent = new Agent({
      name: 'Echo',
      model: 'fake',
      tools: [hostedMcpTool({ serverLabel: 'calc', serverUrl: mcp.url, requireApproval: 'never' })],
    });
    const result = await runner.run(agent, 'CALL echo {"text":"streamed"}', { stream: true });
    for await (const _event of result) {
      // drain
    }
    await result.completed;
    expect(result.finalOutput).toBe('final: streamed');
  });
});
