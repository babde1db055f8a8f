import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../../src/core/ids.js';
import { RunStopped } from '../../src/runtime/agent/loop/errors.js';
import { runAgent } from '../../src/runtime/agent/loop/run-agent.js';
import type { AgentState, Checkpointer } from '../../src/runtime/agent/loop/types.js';
import type { RuntimeDeps } from '../../src/runtime/deps.js';
import { responseShell } from '../../src/runtime/response-object.js';
import { DEFAULT_POLICY } from '../../src/runtime/tools/ssrf.js';
import type { Item } from '../../src/runtime/types.js';
import { createRuntimeRepository } from '../../src/store/runtime/repository.js';
import { parseCreateResponse } from '../../src/surfaces/openai-responses/validate.js';
import { http, type RunningApp, startApp, TENANT_A_KEY } from '../runtime/helpers.js';
import { agentConfig, startScriptedModel } from './helpers.js';

/**
 * The end of a run is fenced like every other step: an owner that lost the lease while it
 * ended (it stalled past the lease, another process took the run over) stops there and does not
 * store the response, which the new owner stores; an owner that still holds it stores it once.
 */

let model: Awaited<ReturnType<typeof startScriptedModel>>;
let app: RunningApp;

beforeAll(async () => {
  model = await startScriptedModel();
  app = await startApp(agentConfig(model.url));
});
afterAll(async () => {
  await app?.close();
  await model?.close();
});

async function runToTheEnd(
  finalSave: 'lost' | null,
): Promise<{ id: string; outcome: Promise<unknown> }> {
  const principal = await app.app.gateway.authenticate(
    { kind: 'bearer', token: TENANT_A_KEY },
    '127.0.0.1',
  );
  const params = parseCreateResponse({ model: 'fake', input: 'hello', background: true });
  const id = randomId('resp_fence', 16);
  const deps: RuntimeDeps = {
    repository: createRuntimeRepository(app.app.database),
    gateway: app.app.gateway,
    catalog: { get: () => undefined },
    clock: () => Date.now(),
    ids: (prefix) => randomId(prefix),
    retention: { retentionDays: 30, conversationRetentionDays: 0 },
  };
  const input: Item = {
    id: randomId('msg_'),
    type: 'message',
    role: 'user',
    content: [{ type: 'input_text', text: 'hello' }],
  } as Item;
  const state: AgentState = {
    history: [],
    input: [input],
    output: [],
    usage: null,
    steps: 0,
    started: [],
    events: [],
    done: false,
  };
  const saves: boolean[] = [];
  const checkpoints: Checkpointer = {
    async save(current) {
      saves.push(current.done);
      return { stop: current.done ? finalSave : null };
    },
  };
  const limits = {
    policy: { ...DEFAULT_POLICY, allowPrivateNetworks: true },
    toolTimeoutMs: 5_000,
    maxSteps: 4,
    maxToolOutputChars: 1_000,
  };
  const outcome = runAgent(
    {
      deps,
      limits,
      request: { params, mcpTools: [], principal, requestId: randomId('req_', 12) },
      shell: { ...responseShell(params, id, 1), background: true },
      state,
      checkpoints,
    },
    { signal: new AbortController().signal },
  ).then(
    (response) => ({ response, saves }),
    (error: unknown) => ({ error, saves }),
  );
  return { id, outcome };
}

describe('the end of a run is fenced on the lease', () => {
  it('an owner that lost the lease while ending stops and stores nothing', async () => {
    const { id, outcome } = await runToTheEnd('lost');
    const result = (await outcome) as { error?: unknown; saves: boolean[] };
    expect(result.error).toBeInstanceOf(RunStopped);
    expect((result.error as RunStopped).reason).toBe('lost');
    expect(result.saves.at(-1)).toBe(true);
    expect((await http(`${app.url}/v1/responses/${id}`, { key: TENANT_A_KEY })).status).toBe(404);
  });

  it('an owner that still holds it stores the response once', async () => {
    const { id, outcome } = await runToTheEnd(null);
    const result = (await outcome) as { response?: { status: string }; saves: boolean[] };
    expect(result.response?.status).toBe('completed');
    const stored = await http(`${app.url}/v1/responses/${id}`, { key: TENANT_A_KEY });
    expect(stored.status).toBe(200);
    expect(stored.json().status).toBe('completed');
  });
});
