import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { closedPort } from '../fakes/upstream.js';
import { http } from '../runtime/helpers.js';
import { type ServeProcess, spawnServe, type TestMcpServer, waitFor } from './helpers.js';

/**
 * Switchyard processes for the handover and cancel tests: each replica is `switchyard serve`
 * from a config file of its own (so replicas can differ in replicaId or timeouts) over one
 * store, stopped with SIGTERM or SIGKILL and started again on the same port.
 */

export const KEY = 'sk-handover-tenant-0123456789';
/** Start-up through tsx takes 10–60 s of a busy 2-core machine. */
const START_TIMEOUT_MS = 150_000;
export const TERMINAL = ['completed', 'failed', 'cancelled', 'incomplete'];
export const INTERRUPTED =
  'The tool call was interrupted (the gateway restarted during the call); it was not retried.';

/** A replica: its config file, port and current process. */
export interface Replica {
  name: string;
  url: string;
  port: number;
  configPath: string;
  child: ServeProcess;
}

/** The config of one replica routing `fake` to the scripted model. */
export function replicaConfig(options: {
  store: string;
  modelUrl: string;
  server?: Record<string, unknown>;
  tools?: Record<string, unknown>;
  redis?: { url: string; prefix: string };
}): Record<string, unknown> {
  return {
    server: { shutdownDelayMs: 300, ...options.server },
    store: options.store,
    ...(options.redis ? { redis: options.redis.url, redisPrefix: options.redis.prefix } : {}),
    logging: { level: 'warn' },
    auth: { masterKey: 'sk-master-handover-test' },
    partners: { openai: { primary: true } },
    keys: [{ key: KEY, name: 'handover', tenant: 'tenant-handover', project: 'project-handover' }],
    providers: {
      fake: {
        type: 'openai',
        partner: 'openai',
        baseUrl: `${options.modelUrl}/v1`,
        apiKey: 'sk-fake',
      },
    },
    models: {
      fake: { capabilities: ['tools'], deployments: [{ provider: 'fake', model: 'fake-model' }] },
    },
    runtime: { tools: { allowPrivateNetworks: true, ...options.tools } },
  };
}

/** Writes `config` as `<name>.json` in `workdir` and starts a replica on a free port. */
export async function startReplica(
  workdir: string,
  name: string,
  config: Record<string, unknown>,
  children: ServeProcess[],
): Promise<Replica> {
  const configPath = join(workdir, `${name}.json`);
  writeFileSync(configPath, JSON.stringify(config));
  const port = await closedPort();
  const child = await spawnServe(configPath, port, workdir, START_TIMEOUT_MS);
  children.push(child);
  return { name, url: `http://127.0.0.1:${port}`, port, configPath, child };
}

/** Starts the replica's process again, same config and port. */
export async function restart(replica: Replica, children: ServeProcess[]): Promise<void> {
  const workdir = join(replica.configPath, '..');
  replica.child = await spawnServe(replica.configPath, replica.port, workdir, START_TIMEOUT_MS);
  children.push(replica.child);
}

/** Sends `signal` and waits for the process to exit; resolves with its exit code. */
export async function stop(
  replica: Replica,
  signal: 'SIGTERM' | 'SIGKILL',
): Promise<number | null> {
  const { child } = replica;
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, 'exit');
  child.kill(signal);
  const [code] = (await exited) as [number | null];
  return code;
}

/** Kills every child still running (afterAll). */
export async function killAll(children: ServeProcess[]): Promise<void> {
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(running.map((child) => once(child, 'exit')));
}

/** Starts a background run of MCP `slow` calls with the given tags and times. */
export async function startRun(
  replica: Replica,
  mcp: TestMcpServer,
  steps: Array<{ tag: string; ms: number }>,
  modelDelayMs: number,
): Promise<string> {
  const script = steps.map((step) => `CALL slow {"ms":${step.ms},"tag":"${step.tag}"}`).join('; ');
  const created = await http(`${replica.url}/v1/responses`, {
    key: KEY,
    body: {
      model: 'fake',
      input: `${script}; DELAY ${modelDelayMs}`,
      background: true,
      tools: [
        { type: 'mcp', server_label: 'slow', server_url: mcp.url, require_approval: 'never' },
      ],
    },
  });
  expect(created.status, created.text).toBe(200);
  return created.json().id as string;
}

/** GET of the response through `replica`. */
export async function retrieve(replica: Replica, id: string): Promise<Record<string, unknown>> {
  const got = await http(`${replica.url}/v1/responses/${id}`, { key: KEY });
  expect(got.status, got.text).toBe(200);
  return got.json() as Record<string, unknown>;
}

/** Waits until GET through `replica` shows a terminal status. */
export function finished(replica: Replica, id: string): Promise<Record<string, unknown>> {
  return waitFor(
    async () => {
      const body = await retrieve(replica, id);
      return TERMINAL.includes(String(body['status'])) ? body : undefined;
    },
    90_000,
    100,
  );
}

/** How many calls with `tag` the MCP server received. */
export const callsOf = (mcp: TestMcpServer, tag: string) =>
  mcp.calls.filter((call) => call.args['tag'] === tag).length;

/** The `mcp_call` items of a response, by tag. */
export function mcpCallsByTag(
  response: Record<string, unknown>,
): Map<string, Record<string, unknown>> {
  const calls = (response['output'] as Array<Record<string, unknown>>).filter(
    (item) => item['type'] === 'mcp_call',
  );
  return new Map(
    calls.map((item) => [
      String((JSON.parse(String(item['arguments'])) as { tag: string }).tag),
      item,
    ]),
  );
}

/** The stream replay through `replica`: its sequence numbers and its terminal events. */
export async function replay(
  replica: Replica,
  id: string,
): Promise<{ sequence: number[]; terminals: string[]; last: Record<string, unknown> }> {
  const answer = await http(`${replica.url}/v1/responses/${id}?stream=true`, { key: KEY });
  expect(answer.status, answer.text).toBe(200);
  const sequence = [...answer.text.matchAll(/"sequence_number":(\d+)/g)].map((match) =>
    Number(match[1]),
  );
  const terminals = [
    ...answer.text.matchAll(/^event: (response\.(?:completed|failed|incomplete|cancelled))$/gm),
  ].map((match) => match[1]!);
  const data = [...answer.text.matchAll(/^data: (.*)$/gm)].map(
    (match) => JSON.parse(match[1]!) as Record<string, unknown>,
  );
  return { sequence, terminals, last: data.at(-1) ?? {} };
}
