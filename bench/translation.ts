import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { type Child, type ProcessStats, startChild } from './ipc.js';
import { foreignCores, machineCpu } from './machine.js';
import { fixed, renderTable, type Row } from './report.js';
import { percentile } from './stats.js';

/**
 * `npx tsx bench/translation.ts`: what translating a stream costs Switchyard, against the
 * same-family fast path, in one run. Three processes: this one (the clients), the fake upstream
 * (bench/translation-upstream.ts, canned streams in OpenAI SSE and Bedrock event-stream format)
 * and Switchyard (bench/translation-gateway.ts). Paths, each streaming `events` text deltas:
 *
 * - fast:             OpenAI client → OpenAI upstream (events forwarded as their original text)
 * - openai→bedrock:   OpenAI client → Bedrock ConverseStream (frames decoded, chunks rendered)
 * - anthropic→openai: Anthropic client → OpenAI upstream (chunks parsed, Anthropic events rendered)
 *
 * The figure is the gateway child's CPU (process.cpuUsage, user + system) per response over a
 * batch of streams. Rounds alternate the paths (in rotating order) so drift and other load hit
 * all alike; the median round is reported. Target: a translated stream costs ≤ 2× the fast
 * path's CPU per response. It reports; it never fails on a missed target (exit 0).
 *
 * Modes: `burst` (the upstream sends a whole answer in one write, so per-event work dominates)
 * and `paced` (one event per write, 1 ms apart, as tokens arrive from a model).
 *
 * Environment:
 * - BENCH_QUICK=1        a smoke run of a few seconds (figures are not meaningful)
 * - BENCH_MODES=a,b      subset of burst,paced (default both)
 * - BENCH_EVENTS=n       text deltas per response (default 200)
 * - BENCH_PROFILE=dir    after the measured rounds, one profiled batch per path and mode into
 *                        dir/translation-<mode>-<path>.cpuprofile (summarise with bench/profile-summary.ts)
 * - BENCH_JSON=path      also write the raw figures as JSON
 */

const MASTER_KEY = 'sk-bench-master';
const quick = process.env['BENCH_QUICK'] === '1';
const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 200);
const MODES = {
  burst: quick
    ? { delayMs: 0, rounds: 2, count: 30, concurrency: 10 }
    : { delayMs: 0, rounds: 7, count: 200, concurrency: 16 },
  paced: quick
    ? { delayMs: 1, rounds: 1, count: 16, concurrency: 16 }
    : { delayMs: 1, rounds: 5, count: 64, concurrency: 32 },
} as const;
type ModeName = keyof typeof MODES;
const modes = (process.env['BENCH_MODES']?.split(',').map((name) => name.trim()) ??
  Object.keys(MODES)) as ModeName[];

const PROMPT = [{ role: 'user', content: 'Stream a long answer for the benchmark.' }];

/** One client → upstream path. */
interface Path {
  name: 'fast' | 'openai→bedrock' | 'anthropic→openai';
  label: string;
  file: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Text deltas the client received, or an error when the stream is incomplete. */
  count(text: string): number | Error;
}

const openAIHeaders = { 'content-type': 'application/json', authorization: `Bearer ${MASTER_KEY}` };
const countOpenAI = (text: string) =>
  text.endsWith('data: [DONE]\n\n')
    ? occurrences(text, '"content":"tok')
    : new Error(`no [DONE]: …${text.slice(-200)}`);
const PATHS: Path[] = [
  {
    name: 'fast',
    label: 'OpenAI client → OpenAI upstream (fast path)',
    file: 'fast',
    url: '/v1/chat/completions',
    headers: openAIHeaders,
    body: JSON.stringify({
      model: 'openai-model',
      messages: PROMPT,
      stream: true,
      stream_options: { include_usage: true },
    }),
    count: countOpenAI,
  },
  {
    name: 'openai→bedrock',
    label: 'OpenAI client → Bedrock upstream (ConverseStream)',
    file: 'openai-bedrock',
    url: '/v1/chat/completions',
    headers: openAIHeaders,
    body: JSON.stringify({
      model: 'bedrock-model',
      messages: PROMPT,
      stream: true,
      stream_options: { include_usage: true },
    }),
    count: countOpenAI,
  },
  {
    name: 'anthropic→openai',
    label: 'Anthropic client → OpenAI upstream',
    file: 'anthropic-openai',
    url: '/v1/messages',
    headers: {
      'content-type': 'application/json',
      'x-api-key': MASTER_KEY,
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify({
      model: 'openai-model',
      max_tokens: 4096,
      messages: PROMPT,
      stream: true,
    }),
    count: (text) =>
      text.includes('event: message_stop')
        ? occurrences(text, '"type":"text_delta"')
        : new Error(`no message_stop: …${text.slice(-200)}`),
  },
];

function occurrences(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

const log = (message: string) =>
  process.stderr.write(
    `[translation ${((performance.now() / 1000) | 0).toString().padStart(3)}s] ${message}\n`,
  );

/** Streams `count` responses over `concurrency` keep-alive connections; checks every one is complete. */
async function batch(
  origin: string,
  path: Path,
  count: number,
  concurrency: number,
  dispatcher: Agent,
): Promise<{ ms: number }> {
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < count) {
      next++;
      const response = await request(origin + path.url, {
        method: 'POST',
        headers: path.headers,
        body: path.body,
        dispatcher,
      });
      const text = await response.body.text();
      if (response.statusCode !== 200)
        throw new Error(`${path.name}: status ${response.statusCode}: ${text.slice(0, 300)}`);
      const deltas = path.count(text);
      if (deltas instanceof Error) throw new Error(`${path.name}: ${deltas.message}`);
      if (deltas < EVENTS)
        throw new Error(`${path.name}: ${deltas} text deltas, expected ${EVENTS}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms: performance.now() - start };
}

const cpuUs = (stats: ProcessStats) => stats.cpuUserUs + stats.cpuSystemUs;

/** Per path: gateway CPU per response (µs) of each measured round. */
type Figures = Record<Path['name'], { cpuPerResponseUs: number[]; msPerBatch: number[] }>;

async function measure(
  mode: ModeName,
  gateway: Child,
  upstream: Child,
  profileDir: string | undefined,
): Promise<{ figures: Figures; otherCores: number }> {
  const plan = MODES[mode];
  await upstream.call('configure', { events: EVENTS, delayMs: plan.delayMs });
  const dispatcher = new Agent({
    connections: plan.concurrency,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  });
  const figures = Object.fromEntries(
    PATHS.map((path) => [path.name, { cpuPerResponseUs: [], msPerBatch: [] }]),
  ) as unknown as Figures;
  try {
    // Warm-up: JIT, connection pools, the store's prepared statements.
    for (const path of PATHS)
      await batch(gateway.url, path, plan.count, plan.concurrency, dispatcher);
    const machine = machineCpu();
    let oursMs = 0;
    for (let round = 0; round < plan.rounds; round++) {
      for (let k = 0; k < PATHS.length; k++) {
        const path = PATHS[(round + k) % PATHS.length]!;
        const [gatewayBefore, upstreamBefore] = await Promise.all([
          gateway.call<ProcessStats>('stats'),
          upstream.call<ProcessStats>('stats'),
        ]);
        const ownBefore = process.cpuUsage();
        const { ms } = await batch(gateway.url, path, plan.count, plan.concurrency, dispatcher);
        const own = process.cpuUsage(ownBefore);
        const [gatewayAfter, upstreamAfter] = await Promise.all([
          gateway.call<ProcessStats>('stats'),
          upstream.call<ProcessStats>('stats'),
        ]);
        const gatewayUs = cpuUs(gatewayAfter) - cpuUs(gatewayBefore);
        oursMs +=
          (gatewayUs + cpuUs(upstreamAfter) - cpuUs(upstreamBefore) + own.user + own.system) / 1000;
        figures[path.name].cpuPerResponseUs.push(gatewayUs / plan.count);
        figures[path.name].msPerBatch.push(ms);
      }
      log(
        `${mode} round ${round + 1}/${plan.rounds}: ${PATHS.map((path) => `${path.name} ${fixed(figures[path.name].cpuPerResponseUs.at(-1), 0)} µs`).join(', ')}`,
      );
    }
    const otherCores = foreignCores(machine, machineCpu(), oursMs);
    if (profileDir) {
      for (const path of PATHS) {
        await gateway.call('profile-start');
        await batch(gateway.url, path, plan.count, plan.concurrency, dispatcher);
        await gateway.call('profile-stop', {
          path: join(profileDir, `translation-${mode}-${path.file}.cpuprofile`),
        });
      }
    }
    return { figures, otherCores };
  } finally {
    await dispatcher.close();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const logPath = join(tmpdir(), `switchyard-bench-translation-${process.pid}.log`);
  const logFd = openSync(logPath, 'w');
  const profileDir =
    process.env['BENCH_PROFILE'] === undefined ? undefined : resolve(process.env['BENCH_PROFILE']);
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  let upstream: Child | undefined;
  let gateway: Child | undefined;
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const notes: string[] = [];
  try {
    upstream = await startChild('./translation-upstream.ts');
    gateway = await startChild('./translation-gateway.ts', {
      env: {
        BENCH_UPSTREAM_URL: upstream.url,
        BENCH_MASTER_KEY: MASTER_KEY,
        BENCH_LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
      },
      stdout: logFd,
    });
    log(
      `fake upstream ${upstream.url}, Switchyard ${gateway.url}; ${EVENTS} text deltas per response${quick ? ', QUICK run' : ''}`,
    );
    const load0 = loadavg()[0]!;
    for (const mode of modes) {
      const plan = MODES[mode];
      const { figures, otherCores } = await measure(mode, gateway, upstream, profileDir);
      raw[mode] = { plan, figures, otherCores };
      const fast = percentile(figures.fast.cpuPerResponseUs, 50);
      const modeLabel = mode === 'burst' ? 'burst' : `paced ${plan.delayMs} ms`;
      for (const path of PATHS) {
        const values = figures[path.name].cpuPerResponseUs;
        const mid = percentile(values, 50);
        const ratio = mid / fast;
        rows.push({
          measure: `${path.label}, ${modeLabel}`,
          direct: `${fixed(Math.min(...values), 0)}–${fixed(Math.max(...values), 0)}`,
          switchyard: fixed(mid, 0),
          result:
            path.name === 'fast'
              ? `${fixed(mid / EVENTS, 2)} µs/event`
              : `${fixed(ratio, 2)}× fast path (${fixed(mid / EVENTS, 2)} µs/event)`,
          target: path.name === 'fast' ? '' : '≤ 2×',
          pass: path.name === 'fast' ? null : ratio <= 2,
        });
      }
      notes.push(
        `${modeLabel}: ${plan.rounds} rounds × ${plan.count} responses per path at ${plan.concurrency} concurrent; other processes used ${fixed(otherCores, 2)} cores meanwhile`,
      );
    }

    const table = renderTable(rows)
      .replace('| Direct ', '| Range  ')
      .replace('| Switchyard ', '| Median     ');
    process.stdout.write(
      `\nGateway CPU per streamed response (µs), ${EVENTS} text deltas each; Range = min–max over rounds, Median = the median round\n\n${table}\n\n`,
    );
    process.stdout.write(
      `Machine: ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}; load average at start ${fixed(load0, 2)}${quick ? '. QUICK run: counts are too small for the figures to mean much.' : ''}\n`,
    );
    for (const note of notes) process.stdout.write(`- ${note}\n`);
    if (profileDir)
      process.stdout.write(
        `Gateway CPU profiles: ${profileDir}/translation-<mode>-<path>.cpuprofile (npx tsx bench/profile-summary.ts <file>)\n`,
      );
    process.stdout.write(
      `Gateway log: ${logPath}. Took ${fixed((performance.now() - started) / 1000, 0)} s.\n`,
    );
    const missed = rows.filter((row) => row.pass === false).length;
    process.stdout.write(
      missed === 0 ? 'All targets met.\n' : `${missed} target(s) MISSED (marked ✗ MISS above).\n`,
    );
    const jsonPath = process.env['BENCH_JSON'];
    if (jsonPath)
      writeFileSync(
        jsonPath,
        JSON.stringify(
          {
            quick,
            events: EVENTS,
            modes: MODES,
            node: process.version,
            cpus: availableParallelism(),
            raw,
          },
          null,
          2,
        ),
      );
  } finally {
    await gateway?.stop();
    await upstream?.stop();
    closeSync(logFd);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`translation bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
