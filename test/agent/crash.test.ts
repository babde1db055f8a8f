import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from '../fakes/upstream.js';
import { http } from '../runtime/helpers.js';
import {
  type ServeProcess,
  spawnServe,
  startMcpServer,
  startScriptedModel,
  type TestMcpServer,
  waitFor,
} from './helpers.js';

/**
 * Crash safety: a background MCP run in a Switchyard child process is killed with SIGKILL
 * mid-run; a second process on the same SQLite file takes the expired lease over and finishes
 * the run from its last checkpoint, with every tool call made exactly once.
 */

const KEY = 'sk-crash-tenant-0123456789';

let workdir: string;
let mcp: TestMcpServer;
let model: Awaited<ReturnType<typeof startScriptedModel>>;
const children: ServeProcess[] = [];

beforeAll(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'switchyard-agent-crash-'));
  mcp = await startMcpServer();
  model = await startScriptedModel();
});
afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await model?.close();
  await mcp?.close();
  rmSync(workdir, { recursive: true, force: true });
});

async function serve(port: number): Promise<ServeProcess> {
  const child = await spawnServe(join(workdir, 'config.json'), port, workdir);
  children.push(child);
  return child;
}

describe('crash-safe background runs', () => {
  it('a second process finishes a run killed mid-way, repeating no tool call', {
    timeout: 120_000,
  }, async () => {
    writeFileSync(
      join(workdir, 'config.json'),
      JSON.stringify({
        store: `sqlite:${join(workdir, 'switchyard.db')}`,
        logging: { level: 'warn' },
        auth: { masterKey: 'sk-master-crash-test' },
        partners: { openai: { primary: true } },
        keys: [{ key: KEY, name: 'crash', tenant: 'tenant-crash', project: 'project-crash' }],
        providers: {
          fake: {
            type: 'openai',
            partner: 'openai',
            baseUrl: `${model.url}/v1`,
            apiKey: 'sk-fake',
          },
        },
        models: {
          fake: {
            capabilities: ['tools'],
            deployments: [{ provider: 'fake', model: 'fake-model' }],
          },
        },
        runtime: { tools: { allowPrivateNetworks: true, leaseMs: 1500, workerIntervalMs: 250 } },
      }),
    );
    const portA = await closedPort();
    const first = await serve(portA);

    const steps = Array.from(
      { length: 4 },
      (_, index) => `CALL slow {"ms":300,"tag":"s${index}"}`,
    ).join('; ');
    const created = await http(`http://127.0.0.1:${portA}/v1/responses`, {
      key: KEY,
      body: {
        model: 'fake',
        input: `${steps}; DELAY 800`,
        background: true,
        tools: [
          { type: 'mcp', server_label: 'slow', server_url: mcp.url, require_approval: 'never' },
        ],
      },
    });
    expect(created.status).toBe(200);
    const id = created.json().id as string;
    expect(created.json().status).toBe('queued');

    // Two tool calls done and checkpointed; the third model call (800 ms) is in flight: kill -9.
    await waitFor(
      () => (mcp.calls.filter((call) => call.finished).length >= 2 ? true : undefined),
      30_000,
      5,
    );
    await new Promise((resolve) => setTimeout(resolve, 250));
    first.kill('SIGKILL');
    await once(first, 'exit');
    expect(mcp.calls.map((call) => call.args['tag'])).toEqual(['s0', 's1']);

    const portB = await closedPort();
    const second = await serve(portB);
    const done = await waitFor(
      async () => {
        const current = await http(`http://127.0.0.1:${portB}/v1/responses/${id}`, { key: KEY });
        const body = current.json();
        return ['completed', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
      },
      60_000,
      100,
    );

    expect(done.status).toBe('completed');
    expect(mcp.calls.map((call) => call.args['tag'])).toEqual(['s0', 's1', 's2', 's3']);
    const calls = (done.output as Array<Record<string, unknown>>).filter(
      (item) => item['type'] === 'mcp_call',
    );
    expect(calls.map((call) => [call['output'], call['status']])).toEqual([
      ['slow done s0', 'completed'],
      ['slow done s1', 'completed'],
      ['slow done s2', 'completed'],
      ['slow done s3', 'completed'],
    ]);
    expect(
      (done.output as Array<Record<string, unknown>>).filter(
        (item) => item['type'] === 'mcp_list_tools',
      ),
    ).toHaveLength(1);
    const message = (done.output as Array<Record<string, unknown>>).at(-1)!;
    expect(JSON.stringify(message)).toContain('final: slow done s3');

    // The replay has one terminal event and strictly increasing sequence numbers.
    const replay = await http(`http://127.0.0.1:${portB}/v1/responses/${id}?stream=true`, {
      key: KEY,
    });
    const sequence = [...replay.text.matchAll(/"sequence_number":(\d+)/g)].map((match) =>
      Number(match[1]),
    );
    expect(sequence).toEqual(sequence.map((_, index) => index));
    expect(replay.text.match(/event: response\.completed/g)).toHaveLength(1);
    second.kill('SIGTERM');
    await once(second, 'exit');
  });
});
