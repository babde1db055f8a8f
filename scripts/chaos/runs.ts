import { startMcpServer, type TestMcpServer } from '../../test/agent/helpers.js';
import type { GatewayProcess } from '../../test/helpers/gateway-process.js';
import { call, poll, type Rig, sleep } from './rig.js';

/**
 * Shutdown and background-run faults as chaos steps: a SIGTERM rolling restart behind a
 * readiness-checking balancer (zero client errors), kill -9 with a background run in flight
 * (the same replicaId restarted takes it back and finishes it, each tool call once), and a
 * cancel sent to the replica that does not own a run (answered cancelled; every read agrees).
 * Background runs call the `slow` tool of a real MCP server and the scripted model (`agent`).
 */

export { startMcpServer, type TestMcpServer };

const TERMINAL = ['completed', 'failed', 'cancelled', 'incomplete'];

/** Starts a background run of MCP `slow` calls (tags, ms) on `replica`; resolves its id. */
async function startRun(
  rig: Rig,
  replica: GatewayProcess,
  mcp: TestMcpServer,
  steps: Array<{ tag: string; ms: number }>,
  modelDelayMs: number,
): Promise<string> {
  const script = steps.map((step) => `CALL slow {"ms":${step.ms},"tag":"${step.tag}"}`).join('; ');
  const created = await call(`${replica.url}/v1/responses`, {
    key: rig.runKey,
    body: {
      model: 'agent',
      input: `${script}; DELAY ${modelDelayMs}`,
      background: true,
      tools: [
        { type: 'mcp', server_label: 'slow', server_url: mcp.url, require_approval: 'never' },
      ],
    },
  });
  if (created.status !== 200)
    throw new Error(`background run: ${created.status} ${created.text.slice(0, 200)}`);
  return (JSON.parse(created.text) as { id: string }).id;
}

async function statusOf(rig: Rig, replica: GatewayProcess, id: string): Promise<string> {
  const got = await call(`${replica.url}/v1/responses/${id}`, {
    key: rig.runKey,
    timeoutMs: 10_000,
  });
  if (got.status !== 200) return `GET ${got.status}`;
  return (JSON.parse(got.text) as { status: string }).status;
}

const callsOf = (mcp: TestMcpServer, tag: string) =>
  mcp.calls.filter((record) => record.args['tag'] === tag).length;

/**
 * SIGTERM rolling restart of replica `index` under a probe load balanced by /readyz, checked
 * as a load balancer does (every 500 ms; out after 2 failed checks in a row, back in after 1
 * good one), so the replica still gets requests for a while after SIGTERM: it answers 503 on
 * /readyz for server.shutdownDelayMs while still serving, then drains; the probe sees zero
 * errors.
 */
export async function rollingRestart(rig: Rig, index: number, others: number[]): Promise<void> {
  const indexes = [index, ...others];
  await Promise.all(indexes.map((i) => rig.live(i)));
  const ready = new Map<number, boolean>(indexes.map((i) => [i, true]));
  const failures = new Map<number, number>(indexes.map((i) => [i, 0]));
  const note = (i: number, ok: boolean) => {
    failures.set(i, ok ? 0 : failures.get(i)! + 1);
    if (ok) ready.set(i, true);
    else if (failures.get(i)! >= 2) ready.set(i, false);
  };
  let running = true;
  const poller = (async () => {
    while (running) {
      await Promise.all(
        indexes.map(async (i) => {
          const replica = rig.replicas[i];
          try {
            const answer = await fetch(`${replica!.url}/readyz`, {
              signal: AbortSignal.timeout(1_000),
            });
            await answer.arrayBuffer();
            note(i, answer.ok);
          } catch {
            note(i, false);
          }
        }),
      );
      await sleep(500);
    }
  })();
  const outcomes = new Map<string, number>();
  let sent = 0;
  let onRestarted = 0;
  // Requests the balancer still sent to the replica after SIGTERM (before /readyz said 503).
  let afterSignal = 0;
  let signalled: number | undefined;
  let exitedMs: number | undefined;
  const probe = async () => {
    while (running) {
      const choices = indexes.filter((i) => ready.get(i));
      const chosen = choices[sent++ % Math.max(1, choices.length)];
      if (chosen === undefined) {
        await sleep(50);
        continue;
      }
      if (chosen === index) {
        onRestarted++;
        if (signalled !== undefined && exitedMs === undefined) afterSignal++;
      }
      let outcome: string;
      try {
        const answer = await call(`${rig.replicas[chosen]!.url}/v1/chat/completions`, {
          key: rig.master,
          body: {
            model: 'priced',
            max_tokens: 5,
            messages: [{ role: 'user', content: 'count to five' }],
          },
        });
        outcome = answer.status === 200 ? 'ok' : `${answer.status}`;
      } catch (error) {
        outcome = `client error: ${(error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name}`;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  };
  const probes = Array.from({ length: 4 }, probe);
  await sleep(2_000);
  signalled = Date.now();
  const exit = await rig.replicas[index]!.terminate();
  exitedMs = Date.now() - signalled;
  await rig.start(index);
  await poll(() => (ready.get(index) ? true : undefined), 30_000, 100);
  const readyMs = Date.now() - signalled;
  await sleep(1_000);
  running = false;
  await Promise.all([...probes, poller]);
  const errors = [...outcomes].filter(([outcome]) => outcome !== 'ok');
  rig.check(
    `SIGTERM rolling restart of replica ${index} behind a /readyz balancer`,
    errors.length === 0 && exit.code === 0 && (outcomes.get('ok') ?? 0) > 0,
    `${outcomes.get('ok') ?? 0} requests answered (${onRestarted} sent to replica ${index}, ${afterSignal} of them after its SIGTERM), errors ${errors.length === 0 ? 'none' : errors.map(([o, n]) => `${o} ×${n}`).join(', ')}; exit code ${exit.code} after ${exitedMs} ms, ready again ${readyMs} ms after SIGTERM`,
  );
}

/**
 * kill -9 of replica `index` with a background run in flight (its first tool result already in
 * the run's checkpoint), restarted at once under the same replicaId: the run is taken back
 * without waiting for its 30 s lease and completes, each tool call made once.
 */
export async function killWithRun(rig: Rig, index: number, mcp: TestMcpServer): Promise<void> {
  const replica = await rig.live(index);
  const tag = `chaos-kill-${Date.now()}`;
  const tags = [`${tag}-1`, `${tag}-2`];
  const id = await startRun(
    rig,
    replica,
    mcp,
    tags.map((t) => ({ tag: t, ms: 50 })),
    1_500,
  );
  // kill -9 cannot keep what the process has not written: wait for the first result's checkpoint.
  const checkpointed = await poll(async () => {
    const { rows } = await rig.pg.query<{ state: string }>(
      'select state from agent_runs where id = $1',
      [id],
    );
    return rows[0]?.state.includes(`slow done ${tags[0]}`) ? true : undefined;
  }, 60_000);
  const owner = await rig.pg.query<{ lease_owner: string | null }>(
    'select lease_owner from agent_runs where id = $1',
    [id],
  );
  await replica.kill9();
  const killedAt = Date.now();
  await rig.start(index);
  const listeningMs = Date.now() - killedAt;
  const restarted = rig.replicas[index]!;
  const status = await poll(
    async () => {
      const now = await statusOf(rig, restarted, id);
      return TERMINAL.includes(now) ? now : undefined;
    },
    60_000,
    200,
  );
  const doneMs = Date.now() - killedAt;
  const { rows: after } = await rig.pg.query<{ lease_owner: string | null }>(
    'select lease_owner from agent_runs where id = $1',
    [id],
  );
  const calls = tags.map((t) => callsOf(mcp, t));
  rig.check(
    `kill -9 of replica ${index} with a background run in flight`,
    checkpointed === true && status === 'completed' && calls.every((n) => n === 1),
    `run ${status ?? 'not finished'} ${doneMs - listeningMs} ms after the restarted replica listened (${listeningMs} ms after the kill; the lease is 30 s), lease ${owner.rows[0]?.lease_owner} → ${after[0]?.lease_owner ?? 'released'}; tool calls ${calls.join(', ')} (each once expected)`,
  );
}

/**
 * A cancel sent to replica `via` for a run owned by replica `owner` (its tool call runs for
 * 20 s): answered cancelled, and GET through both replicas and the run row agree.
 */
export async function cancelElsewhere(
  rig: Rig,
  owner: number,
  via: number,
  mcp: TestMcpServer,
): Promise<void> {
  const [ownerReplica, viaReplica] = [await rig.live(owner), await rig.live(via)];
  const tag = `chaos-cancel-${Date.now()}`;
  const id = await startRun(rig, ownerReplica, mcp, [{ tag, ms: 20_000 }], 20);
  const running = await poll(() => (callsOf(mcp, tag) > 0 ? true : undefined), 60_000, 20);
  const cancelled = await call(`${viaReplica.url}/v1/responses/${id}/cancel`, {
    key: rig.runKey,
    method: 'POST',
    body: {},
  });
  const answered =
    cancelled.status === 200
      ? (JSON.parse(cancelled.text) as { status: string }).status
      : `${cancelled.status}`;
  const reads = [await statusOf(rig, viaReplica, id), await statusOf(rig, ownerReplica, id)];
  const { rows } = await rig.pg.query<{ status: string; lease_owner: string | null }>(
    'select status, lease_owner from agent_runs where id = $1',
    [id],
  );
  rig.check(
    `cancel through replica ${via} of a run owned by replica ${owner}`,
    running === true &&
      answered === 'cancelled' &&
      reads.every((read) => read === 'cancelled') &&
      rows[0]?.status === 'cancelled' &&
      rows[0]?.lease_owner === null,
    `answered ${answered} in ${cancelled.ms.toFixed(0)} ms; GET via ${via}: ${reads[0]}, via ${owner}: ${reads[1]}; run row ${rows[0]?.status}, lease ${rows[0]?.lease_owner ?? 'released'}`,
  );
}
