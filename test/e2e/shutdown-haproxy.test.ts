import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ScriptedModel,
  type ServeProcess,
  startScriptedModel,
  waitFor,
} from '../agent/helpers.js';
import {
  KEY,
  killAll,
  type Replica,
  replicaConfig,
  restart,
  startReplica,
  stop,
} from '../agent/process-rig.js';
import { closedPort } from '../fakes/upstream.js';

/**
 * A rolling restart behind a real load balancer: haproxy (Debian's package) in front of two
 * `switchyard serve` processes, checking GET /readyz every 200 ms (two failed checks take a
 * server out), without retries or redispatch, so any request sent to a closed listener would
 * reach the client as an error. Clients (the openai SDK, no retries) send requests in a
 * bounded loop while each replica in turn gets SIGTERM, exits and is started again. On
 * SIGTERM a replica answers 503 on /readyz while it keeps serving for `shutdownDelayMs`, then
 * drains: the clients see no error at all.
 */

const hasHaproxy = spawnSync('haproxy', ['-v']).status === 0;
if (!hasHaproxy) {
  if (process.env['CI'])
    throw new Error('haproxy is required under CI (.ci/run installs it: apt-get install haproxy)');
  console.warn(
    'haproxy is not installed (apt-get install haproxy): the load-balancer test is skipped.',
  );
}

const WORKERS = 6;
/** Bound of the request loop, per client. */
const MAX_REQUESTS = 4_000;

let workdir: string;
let model: ScriptedModel;
let haproxy: ChildProcess | undefined;
let front: string;
let haproxyOutput = '';
const children: ServeProcess[] = [];
const replicas: Replica[] = [];

async function startHaproxy(backends: Replica[]): Promise<void> {
  const port = await closedPort();
  const path = join(workdir, 'haproxy.cfg');
  writeFileSync(
    path,
    [
      'global',
      '  maxconn 512',
      '  log stderr format raw local0 info',
      'defaults',
      '  mode http',
      '  log global',
      '  option httplog',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      // A check answered slowly (this machine is busy starting processes) is not a failure.
      '  timeout check 3s',
      // No retry and no redispatch: a request that cannot reach its server fails.
      '  retries 0',
      'frontend fe',
      `  bind 127.0.0.1:${port}`,
      '  default_backend be',
      'backend be',
      '  option httpchk GET /readyz',
      '  http-check expect status 200',
      '  http-response set-header x-served-by %s',
      '  default-server inter 200 fall 2 rise 1',
      ...backends.map((backend) => `  server ${backend.name} 127.0.0.1:${backend.port} check`),
      '',
    ].join('\n'),
  );
  haproxy = spawn('haproxy', ['-db', '-f', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  const collect = (data: Buffer) => {
    haproxyOutput += data.toString();
  };
  haproxy.stdout!.on('data', collect);
  haproxy.stderr!.on('data', collect);
  front = `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  if (!hasHaproxy) return;
  workdir = mkdtempSync(join(tmpdir(), 'switchyard-haproxy-'));
  model = await startScriptedModel();
  const config = (name: string) =>
    replicaConfig({
      store: `sqlite:${join(workdir, `${name}.db`)}`,
      modelUrl: model.url,
      server: { shutdownDelayMs: 1_500, drainTimeoutMs: 10_000 },
    });
  replicas.push(
    ...(await Promise.all(
      ['a', 'b'].map((name) => startReplica(workdir, name, config(name), children)),
    )),
  );
  await startHaproxy(replicas);
}, 400_000);

afterAll(async () => {
  if (haproxy && haproxy.exitCode === null) {
    haproxy.kill('SIGKILL');
    await once(haproxy, 'exit');
  }
  await killAll(children);
  await model?.close();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
}, 60_000);

describe.skipIf(!hasHaproxy)('SIGTERM behind haproxy with a /readyz check', () => {
  it('a rolling restart under load gives the clients no error', { timeout: 600_000 }, async () => {
    const client = new OpenAI({ baseURL: `${front}/v1`, apiKey: KEY, maxRetries: 0 });
    const served = new Map<string, number>();
    /** When each server last answered. */
    const lastSeen = new Map<string, number>();
    const errors: string[] = [];
    let done = false;
    let sent = 0;
    const began = Date.now();
    /** What happened when (for the failure message). */
    const events: string[] = [];
    const worker = async () => {
      for (let n = 0; n < MAX_REQUESTS && !done; n++) {
        sent++;
        try {
          const { data, response } = await client.chat.completions
            .create({ model: 'fake', messages: [{ role: 'user', content: 'DELAY 40 hello' }] })
            .withResponse();
          expect(data.choices[0]?.message.content).toContain('no tools');
          const server = response.headers.get('x-served-by') ?? '?';
          served.set(server, (served.get(server) ?? 0) + 1);
          lastSeen.set(server, Date.now());
        } catch (error) {
          const cause = (error as { cause?: { message?: string; code?: string } }).cause;
          errors.push(
            `${String(error)} (${cause?.code ?? ''} ${cause?.message ?? ''}) at ${Date.now() - began} ms; ${events.join(', ')}`,
          );
        }
      }
    };
    // haproxy listens and has checked both replicas up before the load starts (its own start-up is not under test).
    const ready = new Set<string>();
    await waitFor(
      async () => {
        const answer = await fetch(`${front}/readyz`).catch(() => undefined);
        if (answer?.status === 200) ready.add(answer.headers.get('x-served-by') ?? '?');
        await answer?.arrayBuffer();
        return ready.has('a') && ready.has('b') ? true : undefined;
      },
      60_000,
      50,
    );
    const load = Promise.all(Array.from({ length: WORKERS }, worker));
    const seenSince = (name: string, since: number) =>
      waitFor(() => ((lastSeen.get(name) ?? 0) > since ? true : undefined), 120_000, 20);
    try {
      await seenSince('a', 0);
      await seenSince('b', 0);
      const timings: string[] = [];
      for (const replica of replicas) {
        const signalled = Date.now();
        events.push(`SIGTERM ${replica.name} at ${signalled - began} ms`);
        expect(await stop(replica, 'SIGTERM'), replica.child.output()).toBe(0);
        const exited = Date.now();
        events.push(`${replica.name} exited at ${exited - began} ms`);
        await restart(replica, children);
        const listening = Date.now();
        events.push(`${replica.name} listening at ${listening - began} ms`);
        await seenSince(replica.name, listening);
        timings.push(
          `${replica.name}: exited ${exited - signalled} ms after SIGTERM, back in rotation ${Date.now() - listening} ms after listening`,
        );
      }
      done = true;
      await load;
      // Server transitions and every request that did not end cleanly (its termination state is not ----).
      const notable = haproxyOutput
        .split('\n')
        .filter(
          (line) =>
            / is (UP|DOWN)/.test(line) ||
            (/ [A-Za-z-]{4} \d+\/\d+\/\d+\/\d+\/\d+ /.test(line) && !/ ---- /.test(line)),
        );
      expect(errors, notable.join('\n')).toEqual([]);
      expect(served.get('a')).toBeGreaterThan(0);
      expect(served.get('b')).toBeGreaterThan(0);
      console.info(
        `[haproxy] ${sent} requests, ${errors.length} errors (a: ${served.get('a')}, b: ${served.get('b')}); ${timings.join('; ')}`,
      );
    } finally {
      done = true;
      await load;
    }
  });
});
