import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client, Pool } from 'undici';
import type { Mark } from './agent-fakes.js';
import { type Child, type ProcessStats, startChild } from './ipc.js';
import { foreignCores, machineCpu, waitForQuiet } from './machine.js';
import { fixed, renderTable, type Row, signed } from './report.js';
import { msSince, percentile } from './stats.js';

/**
 * `npx tsx bench/agent.ts`: the cost of server-run agent steps (issue 6). Three processes:
 * this one (client), the upstreams (bench/agent-fakes.ts: a scripted model and an MCP server
 * with the official SDK, answering at once) and Switchyard (bench/agent-gateway.ts, SQLite).
 *
 * (a) Step overhead. Background runs of STEPS model → MCP tool steps, one run at a time. The
 *     upstreams stamp every request's arrival and answer on one clock, so the time the caller
 *     spends between an answer and its next request is exact: for Switchyard that is the
 *     checkpoint of the model's answer, the checkpoint of the call's start, the MCP dispatch,
 *     the checkpoint of the result, and the next model call built and routed. The same runs
 *     are made directly from this process (the same chat request and the same SDK tool call,
 *     nothing stored), interleaved; the overhead is Switchyard's time per step minus the
 *     direct client's (median of paired differences, and p50/p99 of both). Target: ≤ 5 ms p50.
 * (b) Background load. Foreground chat completions, one at a time, alone and then while
 *     CONCURRENT background runs (BG_STEPS steps each, a BG_TOOL_MS tool, a BG_MODEL_MS model)
 *     run in the same Switchyard process; reports foreground p50/p99 for both, the event-loop
 *     delay, and whether and when every background run completed.
 *
 * It reports, and exits 0 on a missed target. CPU used by other processes during each phase is
 * printed, since the machine may be shared.
 *
 * Environment: BENCH_QUICK=1 (a smoke run), BENCH_RUNS (runs per mode in (a), default 40),
 * BENCH_STEPS (default 10), BENCH_CONCURRENT (default 200), BENCH_BG_STEPS (default 5),
 * BENCH_BG_TOOL_MS (default 500), BENCH_BG_MODEL_MS (default 1000:
 * a fast model; with 20 the runs need ~2,000 upstream calls/s and the benchmark measures CPU
 * saturation rather than fairness), BENCH_FG_COUNT (foreground
 * requests alone, default 1000), BENCH_BG_RAMP_MS (start the background runs evenly over this
 * time instead of all at once, default 0: all in lockstep, the worst case), BENCH_QUIET_WAIT=s
 * (before each phase, wait up to s seconds for other processes to use < 0.3 cores), BENCH_PHASES=steps,background (default both),
 * BENCH_PROFILE=dir (CPU profile of Switchyard per phase; bench/profile-summary.ts reads it).
 */

const quick = process.env['BENCH_QUICK'] === '1';
const num = (name: string, normal: number, smoke: number) =>
  Number(process.env[name] ?? (quick ? smoke : normal));
const RUNS = num('BENCH_RUNS', 40, 4);
const STEPS = num('BENCH_STEPS', 10, 4);
const WARMUP_RUNS = quick ? 1 : 5;
const CONCURRENT = num('BENCH_CONCURRENT', 200, 20);
const BG_STEPS = num('BENCH_BG_STEPS', 5, 3);
const BG_TOOL_MS = num('BENCH_BG_TOOL_MS', 500, 100);
const BG_MODEL_MS = num('BENCH_BG_MODEL_MS', 1000, 20);
const FG_COUNT = num('BENCH_FG_COUNT', 1000, 100);
const BG_RAMP_MS = num('BENCH_BG_RAMP_MS', 0, 0);
const QUIET_WAIT = num('BENCH_QUIET_WAIT', 0, 0);
const KEY = 'sk-bench-master';
const HEADERS = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };
const FOREGROUND = JSON.stringify({
  model: 'bench',
  messages: [{ role: 'user', content: 'Say hello to the benchmark.' }],
});
const WORK_TOOL = {
  type: 'function',
  function: {
    name: 'work',
    description: 'Does some work for ms milliseconds and reports the step',
    parameters: {
      type: 'object',
      properties: { run: { type: 'string' }, step: { type: 'number' }, ms: { type: 'number' } },
      required: ['run', 'step', 'ms'],
    },
  },
};
const phases = new Set(
  process.env['BENCH_PHASES']?.split(',').map((name) => name.trim()) ?? ['steps', 'background'],
);
const profileDir =
  process.env['BENCH_PROFILE'] === undefined ? undefined : resolve(process.env['BENCH_PROFILE']);
const log = (message: string) =>
  process.stderr.write(
    `[agent ${((performance.now() / 1000) | 0).toString().padStart(3)}s] ${message}\n`,
  );

const script = (run: string, steps: number, toolMs: number, modelMs: number) =>
  `AGENT ${run} STEPS ${steps} TOOLMS ${toolMs} DELAY ${modelMs}`;

/** Time between answers and next requests of one run (ms): `[model answer → tool call, tool result → model call]` per step. */
function stepGaps(marks: Mark[]): Array<[number, number]> {
  const sorted = [...marks].sort((a, b) => a.in - b.in);
  const gaps: Array<[number, number]> = [];
  for (let index = 0; index + 2 < sorted.length; index += 2) {
    const [model, tool, next] = [sorted[index]!, sorted[index + 1]!, sorted[index + 2]!];
    if (model.kind !== 'model' || tool.kind !== 'tool' || next.kind !== 'model')
      throw new Error(
        `unexpected order of upstream requests: ${sorted.map((mark) => mark.kind).join(',')}`,
      );
    gaps.push([tool.in - model.out, next.in - tool.out]);
  }
  return gaps;
}

async function main(): Promise<void> {
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const fakes = await startChild('./agent-fakes.ts');
  const gateway = await startChild('./agent-gateway.ts', {
    env: {
      BENCH_UPSTREAM_URL: fakes.url,
      BENCH_MASTER_KEY: KEY,
      BENCH_LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
    },
  });
  const client = new Client(gateway.url, { pipelining: 1 });
  const lines: string[] = [];
  try {
    if (QUIET_WAIT > 0 && phases.has('steps')) await waitForQuiet(QUIET_WAIT, 0.3, log);
    if (phases.has('steps')) lines.push(...(await stepPhase(fakes, gateway, client)));
    if (QUIET_WAIT > 0 && phases.has('background')) await waitForQuiet(QUIET_WAIT, 0.3, log);
    if (phases.has('background')) lines.push(...(await backgroundPhase(fakes, gateway, client)));
  } finally {
    await client.close();
    await gateway.stop();
    await fakes.stop();
  }
  process.stdout.write(
    [
      '',
      `Agent runs benchmark (issue 6), Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), load average ${loadavg()
        .map((value) => value.toFixed(1))
        .join(' ')} at the end.`,
      '',
      ...lines,
      '',
    ].join('\n'),
  );
}

/** CPU (ms) used so far by this process and the two children. */
async function ourCpuMs(children: Child[]): Promise<number> {
  const stats = await Promise.all(children.map((child) => child.call<ProcessStats>('stats')));
  const own = process.cpuUsage();
  return (
    (own.user + own.system) / 1000 +
    stats.reduce((sum, stat) => sum + (stat.cpuUserUs + stat.cpuSystemUs) / 1000, 0)
  );
}

async function gatewayCpuMs(gateway: Child): Promise<number> {
  const stat = await gateway.call<ProcessStats>('stats');
  return (stat.cpuUserUs + stat.cpuSystemUs) / 1000;
}

async function startProfile(gateway: Child): Promise<void> {
  if (profileDir) await gateway.call('profile-start');
}

async function stopProfile(gateway: Child, phase: string): Promise<void> {
  if (!profileDir) return;
  const path = join(profileDir, `agent-${phase}.cpuprofile`);
  await gateway.call('profile-stop', { path });
  log(`profile: ${path}`);
}

async function post(
  client: Client | Pool,
  path: string,
  body: string,
): Promise<{ status: number; text: string }> {
  const answer = await client.request({ method: 'POST', path, headers: HEADERS, body });
  return { status: answer.statusCode, text: await answer.body.text() };
}

/** A background run through Switchyard; resolves once it is `completed`. */
async function gatewayRun(
  fakes: Child,
  client: Client,
  run: string,
  mcpUrl: string,
): Promise<void> {
  const before = (await fakes.call<{ count: number }>('finals')).count;
  const body = JSON.stringify({
    model: 'bench',
    input: script(run, STEPS, 0, 0),
    background: true,
    tools: [{ type: 'mcp', server_label: 'bench', server_url: mcpUrl, require_approval: 'never' }],
  });
  const created = await post(client, '/v1/responses', body);
  if (created.status !== 200) throw new Error(`create: ${created.status} ${created.text}`);
  const id = (JSON.parse(created.text) as { id: string }).id;
  // Wait on the upstreams (not by polling Switchyard, which would add work between steps).
  while ((await fakes.call<{ count: number }>('finals')).count === before) await sleep(2);
  for (;;) {
    const answer = await client.request({
      method: 'GET',
      path: `/v1/responses/${id}`,
      headers: HEADERS,
    });
    const status = (JSON.parse(await answer.body.text()) as { status: string }).status;
    if (status === 'completed') return;
    if (status !== 'in_progress' && status !== 'queued')
      throw new Error(`run ${id} ended ${status}`);
    await sleep(2);
  }
}

/** The same run made directly: the same chat requests (undici) and SDK tool calls, nothing stored. */
async function directRun(model: Client, mcpUrl: string, run: string): Promise<void> {
  const mcp = new McpClient({ name: 'bench-direct', version: '1.0.0' });
  await mcp.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
  try {
    await mcp.listTools();
    const messages: Array<Record<string, unknown>> = [
      { role: 'user', content: script(run, STEPS, 0, 0) },
    ];
    for (;;) {
      const answer = await post(
        model,
        '/v1/chat/completions',
        JSON.stringify({ model: 'gpt-bench', messages, tools: [WORK_TOOL] }),
      );
      const message = (
        JSON.parse(answer.text) as {
          choices: Array<{
            message: {
              content: string | null;
              tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>;
            };
          }>;
        }
      ).choices[0]!.message;
      const call = message.tool_calls?.[0];
      if (!call) return;
      messages.push({
        role: 'assistant',
        content: null,
        tool_calls: [{ id: call.id, type: 'function', function: call.function }],
      });
      const result = await mcp.callTool({
        name: call.function.name,
        arguments: JSON.parse(call.function.arguments) as Record<string, unknown>,
      });
      const text = (result.content as Array<{ text: string }>).map((part) => part.text).join('\n');
      messages.push({ role: 'tool', tool_call_id: call.id, content: text });
    }
  } finally {
    await mcp.close();
  }
}

async function stepPhase(fakes: Child, gateway: Child, client: Client): Promise<string[]> {
  const mcpUrl = `${fakes.url}/mcp`;
  const model = new Client(fakes.url, { pipelining: 1 });
  log(
    `(a) step overhead: ${RUNS} runs of ${STEPS} steps each, through Switchyard and directly, interleaved (after ${WARMUP_RUNS} warm-up runs each)`,
  );
  for (let index = 0; index < WARMUP_RUNS; index++) {
    await gatewayRun(fakes, client, `warm-g${index}`, mcpUrl);
    await directRun(model, mcpUrl, `warm-d${index}`);
  }
  await fakes.call('reset');
  const children = [fakes, gateway];
  const cpuBefore = await ourCpuMs(children);
  const gatewayBefore = await gatewayCpuMs(gateway);
  const machineBefore = machineCpu();
  await startProfile(gateway);
  for (let index = 0; index < RUNS; index++) {
    await gatewayRun(fakes, client, `g${index}`, mcpUrl);
    await directRun(model, mcpUrl, `d${index}`);
  }
  await stopProfile(gateway, 'steps');
  const gatewayCpu = (await gatewayCpuMs(gateway)) - gatewayBefore;
  const others = foreignCores(machineBefore, machineCpu(), (await ourCpuMs(children)) - cpuBefore);
  await model.close();

  const { marks } = await fakes.call<{ marks: Record<string, Mark[]> }>('marks');
  const through: Array<[number, number]> = [];
  const direct: Array<[number, number]> = [];
  const paired: number[] = [];
  for (let index = 0; index < RUNS; index++) {
    const g = stepGaps(marks[`g${index}`] ?? []);
    const d = stepGaps(marks[`d${index}`] ?? []);
    if (g.length !== STEPS || d.length !== STEPS)
      throw new Error(`run ${index}: ${g.length} / ${d.length} steps seen, expected ${STEPS}`);
    through.push(...g);
    direct.push(...d);
    g.forEach((gap, step) => {
      paired.push(gap[0] + gap[1] - d[step]![0] - d[step]![1]);
    });
  }
  const sum = (gaps: Array<[number, number]>) => gaps.map(([a, b]) => a + b);
  const perStep = { through: sum(through), direct: sum(direct) };
  const overhead = percentile(paired, 50);
  const rows: Row[] = [
    {
      measure: 'model answer → tool call, p50 ms',
      direct: fixed(
        percentile(
          direct.map((gap) => gap[0]),
          50,
        ),
        3,
      ),
      switchyard: fixed(
        percentile(
          through.map((gap) => gap[0]),
          50,
        ),
        3,
      ),
      result: '',
      target: '',
      pass: null,
    },
    {
      measure: 'tool result → next model call, p50 ms',
      direct: fixed(
        percentile(
          direct.map((gap) => gap[1]),
          50,
        ),
        3,
      ),
      switchyard: fixed(
        percentile(
          through.map((gap) => gap[1]),
          50,
        ),
        3,
      ),
      result: '',
      target: '',
      pass: null,
    },
    {
      measure: 'per step (both), p50 ms',
      direct: fixed(percentile(perStep.direct, 50), 3),
      switchyard: fixed(percentile(perStep.through, 50), 3),
      result: signed(percentile(perStep.through, 50) - percentile(perStep.direct, 50), 3, ' ms'),
      target: '',
      pass: null,
    },
    {
      measure: 'per step (both), p99 ms',
      direct: fixed(percentile(perStep.direct, 99), 3),
      switchyard: fixed(percentile(perStep.through, 99), 3),
      result: signed(percentile(perStep.through, 99) - percentile(perStep.direct, 99), 3, ' ms'),
      target: '',
      pass: null,
    },
    {
      measure: 'step overhead, median paired Δ',
      direct: '',
      switchyard: '',
      result: `${fixed(overhead, 3)} ms`,
      target: '≤ 5 ms p50',
      pass: overhead <= 5,
    },
    {
      measure: 'step overhead, p99 paired Δ',
      direct: '',
      switchyard: '',
      result: `${fixed(percentile(paired, 99), 3)} ms`,
      target: '',
      pass: null,
    },
    {
      measure: 'Switchyard CPU per step (whole run / steps)',
      direct: '',
      switchyard: `${fixed(gatewayCpu / (RUNS * (STEPS + 1)), 3)} ms`,
      result: '',
      target: '',
      pass: null,
    },
  ];
  // The checkpoint rewrites the run row; a later step has a longer event log behind it.
  const byStep = Array.from({ length: STEPS }, (_, step) =>
    percentile(
      through.filter((_, index) => index % STEPS === step).map(([a, b]) => a + b),
      50,
    ),
  );
  return [
    `### (a) Step overhead: ${RUNS} background runs × ${STEPS} MCP tool steps (SQLite), upstreams answering at once`,
    '',
    renderTable(rows),
    '',
    `Switchyard per-step time (p50, ms) by step index: ${byStep.map((value) => fixed(value, 2)).join(', ')}.`,
    `Other processes used ${fixed(others, 2)} cores during the phase.`,
    '',
  ];
}

async function foreground(client: Client, until: () => boolean, max: number): Promise<number[]> {
  const samples: number[] = [];
  while (samples.length < max && !until()) {
    const started = process.hrtime.bigint();
    const answer = await post(client, '/v1/chat/completions', FOREGROUND);
    if (answer.status !== 200) throw new Error(`foreground: ${answer.status} ${answer.text}`);
    samples.push(msSince(started));
  }
  return samples;
}

async function backgroundPhase(fakes: Child, gateway: Child, client: Client): Promise<string[]> {
  const mcpUrl = `${fakes.url}/mcp`;
  const children = [fakes, gateway];
  log(`(b) foreground chat completions alone: ${FG_COUNT} requests (after 100 warm-up)`);
  await foreground(client, () => false, 100);
  await gateway.call('loop-delay');
  let machine = machineCpu();
  let ours = await ourCpuMs(children);
  const alone = await foreground(client, () => false, FG_COUNT);
  const aloneLoop = await gateway.call<{ p50: number; p99: number; max: number }>('loop-delay');
  const aloneOthers = foreignCores(machine, machineCpu(), (await ourCpuMs(children)) - ours);

  log(
    `(b) ${CONCURRENT} background runs (${BG_STEPS} steps, tool ${BG_TOOL_MS} ms, model ${BG_MODEL_MS} ms${BG_RAMP_MS > 0 ? `, started over ${BG_RAMP_MS} ms` : ', started at once'}) with foreground requests alongside`,
  );
  await fakes.call('reset');
  const pool = new Pool(gateway.url, { connections: 50 });
  machine = machineCpu();
  ours = await ourCpuMs(children);
  const gatewayBefore = await gatewayCpuMs(gateway);
  await startProfile(gateway);
  await gateway.call('loop-delay');
  const started = performance.now();
  let finals = 0;
  let completedAt = Number.NaN;
  const createMs: number[] = [];
  const ids: string[] = [];
  const creating = Promise.all(
    Array.from({ length: CONCURRENT }, async (_, index) => {
      if (BG_RAMP_MS > 0) await sleep((index * BG_RAMP_MS) / CONCURRENT);
      const at = process.hrtime.bigint();
      const body = JSON.stringify({
        model: 'bench',
        input: script(`bg${index}`, BG_STEPS, BG_TOOL_MS, BG_MODEL_MS),
        background: true,
        tools: [
          { type: 'mcp', server_label: 'bench', server_url: mcpUrl, require_approval: 'never' },
        ],
      });
      const created = await post(pool, '/v1/responses', body);
      createMs.push(msSince(at));
      if (created.status !== 200)
        throw new Error(`background create: ${created.status} ${created.text}`);
      ids.push((JSON.parse(created.text) as { id: string }).id);
    }),
  );
  const watching = (async () => {
    const deadline = performance.now() + 600_000;
    while (finals < CONCURRENT && performance.now() < deadline) {
      await sleep(20);
      finals = (await fakes.call<{ count: number }>('finals')).count;
    }
    completedAt = performance.now();
  })();
  const loaded = await foreground(client, () => finals >= CONCURRENT, Number.POSITIVE_INFINITY);
  await creating;
  await watching;
  const loadedLoop = await gateway.call<{ p50: number; p99: number; max: number }>('loop-delay');
  await stopProfile(gateway, 'background');
  const gatewayCpu = (await gatewayCpuMs(gateway)) - gatewayBefore;
  const loadedOthers = foreignCores(machine, machineCpu(), (await ourCpuMs(children)) - ours);
  // Every run's final state, as a client would poll it (after the last model answer: give the final checkpoint a moment).
  const statuses = new Map<string, number>();
  for (const id of ids) {
    let status = '';
    for (let attempt = 0; attempt < 200; attempt++) {
      const answer = await pool.request({
        method: 'GET',
        path: `/v1/responses/${id}`,
        headers: HEADERS,
      });
      status = (JSON.parse(await answer.body.text()) as { status: string }).status;
      if (status !== 'in_progress' && status !== 'queued') break;
      await sleep(10);
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  await pool.close();
  const elapsed = (completedAt - started) / 1000;
  const ideal = (BG_STEPS * (BG_TOOL_MS + BG_MODEL_MS) + BG_MODEL_MS) / 1000;
  const completed = statuses.get('completed') ?? 0;
  const rows: Row[] = [
    {
      measure: 'foreground chat p50 ms',
      direct: fixed(percentile(alone, 50), 3),
      switchyard: fixed(percentile(loaded, 50), 3),
      result: signed(percentile(loaded, 50) - percentile(alone, 50), 3, ' ms'),
      target: '',
      pass: null,
    },
    {
      measure: 'foreground chat p99 ms',
      direct: fixed(percentile(alone, 99), 3),
      switchyard: fixed(percentile(loaded, 99), 3),
      result: signed(percentile(loaded, 99) - percentile(alone, 99), 3, ' ms'),
      target: '',
      pass: null,
    },
    {
      measure: 'foreground requests served',
      direct: String(alone.length),
      switchyard: `${loaded.length} (${fixed(loaded.length / elapsed, 0)}/s)`,
      result: '',
      target: 'p50 ≤ 2× alone, p99 < 1 s',
      pass:
        loaded.length > 0 &&
        percentile(loaded, 50) <= 2 * percentile(alone, 50) &&
        percentile(loaded, 99) < 1000,
    },
    {
      measure: 'event-loop delay p50 / p99 / max ms',
      direct: `${fixed(aloneLoop.p50, 1)} / ${fixed(aloneLoop.p99, 1)} / ${fixed(aloneLoop.max, 1)}`,
      switchyard: `${fixed(loadedLoop.p50, 1)} / ${fixed(loadedLoop.p99, 1)} / ${fixed(loadedLoop.max, 1)}`,
      result: '',
      target: '',
      pass: null,
    },
    {
      measure: 'background create p50 / p99 ms',
      direct: '',
      switchyard: `${fixed(percentile(createMs, 50), 1)} / ${fixed(percentile(createMs, 99), 1)}`,
      result: '',
      target: '',
      pass: null,
    },
    {
      measure: `background runs completed (of ${CONCURRENT})`,
      direct: '',
      switchyard: `${completed}${statuses.size > 1 ? ` (${[...statuses].map(([status, count]) => `${status} ${count}`).join(', ')})` : ''}`,
      result: `all in ${fixed(elapsed, 1)} s (one alone: ≥ ${fixed(ideal, 2)} s)`,
      target: 'all complete',
      pass: completed === CONCURRENT,
    },
    {
      measure: 'Switchyard CPU during the load',
      direct: '',
      switchyard: `${fixed(gatewayCpu / 1000, 2)} s (${fixed(gatewayCpu / elapsed / 1000, 2)} cores)`,
      result: `${fixed(gatewayCpu / (CONCURRENT * (BG_STEPS * 2 + 2) + loaded.length), 2)} ms per upstream call`,
      target: '',
      pass: null,
    },
  ];
  return [
    `### (b) ${CONCURRENT} concurrent background runs on one process (SQLite; ${BG_STEPS} steps, tool ${BG_TOOL_MS} ms, model ${BG_MODEL_MS} ms, ${BG_RAMP_MS > 0 ? `started over ${BG_RAMP_MS} ms` : 'all started at once'}), foreground chat completions alongside`,
    '',
    'Columns: "Direct" = foreground alone, "Switchyard" = foreground during the background load.',
    '',
    renderTable(rows),
    '',
    `Other processes used ${fixed(aloneOthers, 2)} cores while the foreground ran alone, ${fixed(loadedOthers, 2)} during the load.`,
    '',
  ];
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
