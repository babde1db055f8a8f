import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Child, type ProcessStats, startChild } from './ipc.js';
import { MASTER_KEY } from './load.js';
import { foreignCores, machineCpu, waitForQuiet } from './machine.js';
import {
  latencyPhase,
  requestMemoryPhase,
  streamingPhase,
  streamMemoryPhase,
  type Targets,
  throughputPhase,
} from './phases.js';
import { fixed, mb, renderTable, type Row, signed } from './report.js';

/**
 * `npm run bench`: Switchyard's overhead over a fake OpenAI upstream. Separate processes: this
 * one (load generator), the fake upstream (bench/fake-upstream.ts), Switchyard
 * (bench/gateway-process.ts) and a bare reference proxy (bench/reference-proxy.ts). Every figure
 * is measured directly against the fake and through Switchyard in the same run; throughput and
 * latency also through the bare proxy, which shows Node's own floor for a proxy on this machine.
 * It reports; it never fails on a missed target (exit 0).
 *
 * Environment:
 * - BENCH_QUICK=1        a smoke run of a few seconds (small counts; figures are not meaningful)
 * - BENCH_PHASES=a,b     subset of throughput,latency,streaming,memory,streams (default: all)
 * - BENCH_LOG_LEVEL      the gateway's logging.level (default warn); its log goes to a temp file
 * - BENCH_PROFILE=dir    CPU-profile the gateway during each measured phase into dir/gateway-<phase>.cpuprofile
 *                        (V8's sampling profiler via the inspector; summarise with profile-summary.ts)
 * - BENCH_REFERENCE=0    skip the bare reference proxy
 * - BENCH_SOURCE_MAPS=1  keep tsx's source-mapped stack traces in the gateway (off by default,
 *                        as in production, which runs dist/)
 * - BENCH_UPSTREAM_CONNECTIONS  sockets per upstream origin in the gateway (default 1024;
 *                        `default` = createApp's own transport, 256)
 * - BENCH_QUIET_WAIT=s   before each phase, wait up to s seconds for other processes to use
 *                        < 0.3 cores (shared machines); default 0 = do not wait
 * - BENCH_JSON=path      also write the raw figures as JSON
 */

const quick = process.env['BENCH_QUICK'] === '1';
const PLAN = quick
  ? {
      throughput: { connections: 20, warmupSeconds: 1, seconds: 1 },
      latency: { count: 200, block: 50, warmup: 20 },
      streaming: {
        ttfb: { count: 30, block: 10, warmup: 5 },
        gaps: { count: 3, block: 1, warmup: 1 },
        chunks: 10,
        delayMs: 20,
      },
      memory: { connections: 20, warmupAmount: 500, amount: 2_000, maxSeconds: 10 },
      streams: { count: 100, rounds: 2, chunks: 10, delayMs: 20 },
    }
  : {
      throughput: { connections: 20, warmupSeconds: 3, seconds: 10 },
      latency: { count: 3_000, block: 250, warmup: 300 },
      streaming: {
        ttfb: { count: 600, block: 50, warmup: 50 },
        gaps: { count: 24, block: 4, warmup: 2 },
        chunks: 10,
        delayMs: 20,
      },
      memory: { connections: 20, warmupAmount: 20_000, amount: 200_000, maxSeconds: 120 },
      streams: { count: 1_000, rounds: 3, chunks: 20, delayMs: 50 },
    };
const ALL_PHASES = ['throughput', 'latency', 'streaming', 'memory', 'streams'] as const;
const phases = new Set(
  process.env['BENCH_PHASES']?.split(',').map((name) => name.trim()) ?? ALL_PHASES,
);
const log = (message: string) =>
  process.stderr.write(
    `[bench ${((performance.now() / 1000) | 0).toString().padStart(3)}s] ${message}\n`,
  );

async function main(): Promise<number> {
  const started = performance.now();
  const logPath = join(tmpdir(), `switchyard-bench-gateway-${process.pid}.log`);
  const logFd = openSync(logPath, 'w');
  const upstreamConnections = process.env['BENCH_UPSTREAM_CONNECTIONS'] ?? '1024';
  const profileDir =
    process.env['BENCH_PROFILE'] === undefined ? undefined : resolve(process.env['BENCH_PROFILE']);
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  let fake: Child | undefined;
  let gateway: Child | undefined;
  let reference: Child | undefined;
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  try {
    fake = await startChild('./fake-upstream.ts');
    gateway = await startChild('./gateway-process.ts', {
      env: {
        BENCH_UPSTREAM_URL: fake.url,
        BENCH_MASTER_KEY: MASTER_KEY,
        BENCH_LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
        // '' = createApp's own transport (the child would otherwise inherit 'default').
        BENCH_UPSTREAM_CONNECTIONS: upstreamConnections === 'default' ? '' : upstreamConnections,
      },
      stdout: logFd,
    });
    if (process.env['BENCH_REFERENCE'] !== '0')
      reference = await startChild('./reference-proxy.ts', {
        env: { BENCH_UPSTREAM_URL: fake.url },
      });
    const targets: Targets = { fake, gateway, reference, log };
    log(
      `fake upstream ${fake.url} (pid ${fake.process.pid}), Switchyard ${gateway.url} (pid ${gateway.process.pid})${quick ? ', QUICK run' : ''}`,
    );
    const load0 = loadavg()[0]!;
    const noise: Record<string, number> = {};
    raw['otherLoadCores'] = noise;
    const ourCpuMs = async () => {
      const children = await Promise.all(
        [fake, gateway, reference].map((child) => child?.call<ProcessStats>('stats')),
      );
      const own = process.cpuUsage();
      return (
        (own.user +
          own.system +
          children.reduce(
            (sum, child) => sum + (child ? child.cpuUserUs + child.cpuSystemUs : 0),
            0,
          )) /
        1000
      );
    };
    /** Runs a phase, noting the CPU other processes took meanwhile, and profiling it if asked. */
    const quietWait = Number(process.env['BENCH_QUIET_WAIT'] ?? 0);
    const phase = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
      if (quietWait > 0) await waitForQuiet(quietWait, 0.3, log);
      if (profileDir) await gateway!.call('profile-start');
      const machine = machineCpu();
      const ours = await ourCpuMs();
      const result = await run();
      noise[name] = foreignCores(machine, machineCpu(), (await ourCpuMs()) - ours);
      if (profileDir)
        await gateway!.call('profile-stop', {
          path: join(profileDir, `gateway-${name}.cpuprofile`),
        });
      return result;
    };

    if (phases.has('throughput')) {
      const {
        direct,
        reference: bare,
        switchyard,
      } = (raw['throughput'] = await phase('throughput', () =>
        throughputPhase(targets, PLAN.throughput),
      ));
      const ratio = switchyard.rps / direct.rps;
      const bareRatio = bare ? ` (${fixed((bare.rps / direct.rps) * 100, 0)}%)` : '';
      rows.push({
        measure: `Throughput, ${PLAN.throughput.connections} conns (req/s)`,
        direct: fixed(direct.rps, 0),
        reference: bare ? `${fixed(bare.rps, 0)}${bareRatio}` : '—',
        switchyard: fixed(switchyard.rps, 0),
        result: `${fixed(ratio * 100, 1)}% of direct`,
        target: '≥ 50%',
        pass: ratio >= 0.5,
      });
      rows.push({
        measure: 'CPU per request, proxy (µs)',
        direct: '—',
        reference: fixed(bare?.proxyCpuPerRequestUs, 0),
        switchyard: fixed(switchyard.proxyCpuPerRequestUs, 0),
        result: `at ${fixed(switchyard.rps, 0)} req/s`,
        target: '',
        pass: null,
      });
      rows.push({
        measure: 'CPU per request, upstream (µs)',
        direct: fixed(direct.upstreamCpuPerRequestUs, 0),
        reference: fixed(bare?.upstreamCpuPerRequestUs, 0),
        switchyard: fixed(switchyard.upstreamCpuPerRequestUs, 0),
        result: '',
        target: '',
        pass: null,
      });
      const failures = (result: { non2xx: number; errors: number } | undefined) =>
        result ? result.non2xx + result.errors : 0;
      if (failures(direct) + failures(bare) + failures(switchyard) > 0)
        rows.push({
          measure: 'Throughput run failures (non-2xx + errors)',
          direct: String(failures(direct)),
          reference: String(failures(bare)),
          switchyard: String(failures(switchyard)),
          result: '',
          target: '0',
          pass: false,
        });
    }

    if (phases.has('latency')) {
      const result = (raw['latency'] = await phase('latency', () =>
        latencyPhase(targets, PLAN.latency),
      ));
      const { direct, reference: bare, switchyard } = result;
      const p50 = switchyard.p50 - direct.p50;
      const p99 = switchyard.p99 - direct.p99;
      const added = (value: number | undefined, base: number) =>
        value === undefined ? '—' : `${fixed(value, 3)} (${signed(value - base, 3)})`;
      rows.push({
        measure: 'Latency p50, 1 conn (ms)',
        direct: fixed(direct.p50, 3),
        reference: added(bare?.p50, direct.p50),
        switchyard: fixed(switchyard.p50, 3),
        result: signed(p50, 3, ' ms'),
        target: '≤ +0.5 ms',
        pass: p50 <= 0.5,
      });
      rows.push({
        measure: 'Latency p99, 1 conn (ms)',
        direct: fixed(direct.p99, 3),
        reference: added(bare?.p99, direct.p99),
        switchyard: fixed(switchyard.p99, 3),
        result: signed(p99, 3, ' ms'),
        target: '≤ +2 ms',
        pass: p99 <= 2,
      });
      rows.push({
        measure: 'Event-loop delay p99 / max, 1 conn (ms)',
        direct: '—',
        reference: loopDelayText(result.referenceLoopDelay),
        switchyard: loopDelayText(result.gatewayLoopDelay),
        result: '',
        target: '',
        pass: null,
      });
      rows.push({
        measure: 'CPU per request, proxy, 1 conn (µs)',
        direct: '—',
        reference: fixed(result.referenceCpuPerRequestUs, 0),
        switchyard: fixed(result.gatewayCpuPerRequestUs, 0),
        result: `at ${fixed(1000 / switchyard.mean, 0)} req/s`,
        target: '',
        pass: null,
      });
    }

    if (phases.has('streaming')) {
      const {
        direct,
        reference: bare,
        switchyard,
        gatewayLoopDelay,
        referenceLoopDelay,
      } = (raw['streaming'] = await phase('streaming', () =>
        streamingPhase(targets, PLAN.streaming),
      ));
      const ttfb = switchyard.ttfb.p50 - direct.ttfb.p50;
      const added = (value: number | undefined, base: number) =>
        value === undefined ? '—' : `${fixed(value, 3)} (${signed(value - base, 3)})`;
      rows.push({
        measure: 'Stream TTFB p50 (ms)',
        direct: fixed(direct.ttfb.p50, 3),
        reference: added(bare?.ttfb.p50, direct.ttfb.p50),
        switchyard: fixed(switchyard.ttfb.p50, 3),
        result: signed(ttfb, 3, ' ms'),
        target: '≤ +1 ms',
        pass: ttfb <= 1,
      });
      rows.push({
        measure: 'Stream TTFB p99 (ms)',
        direct: fixed(direct.ttfb.p99, 3),
        reference: added(bare?.ttfb.p99, direct.ttfb.p99),
        switchyard: fixed(switchyard.ttfb.p99, 3),
        result: signed(switchyard.ttfb.p99 - direct.ttfb.p99, 3, ' ms'),
        target: '',
        pass: null,
      });
      rows.push({
        measure: 'Event-loop delay p99 / max, TTFB run (ms)',
        direct: '—',
        reference: loopDelayText(referenceLoopDelay),
        switchyard: loopDelayText(gatewayLoopDelay),
        result: '',
        target: '',
        pass: null,
      });
      const { chunks, delayMs } = PLAN.streaming;
      const gapP50 = switchyard.gaps.p50 - direct.gaps.p50;
      // Forwarded as they arrive: the same median gap, and no more events bunched together
      // (a gap under a quarter of the pacing means an event was held and flushed with the next).
      const bunched = (gaps: number[]) =>
        gaps.filter((gap) => gap < delayMs / 4).length / Math.max(1, gaps.length);
      const extraBunched = bunched(switchyard.gapSamples) - bunched(direct.gapSamples);
      const paced = Math.abs(gapP50) <= 1 && extraBunched <= 0.05;
      rows.push({
        measure: `Event gap p50, ${chunks}×${delayMs} ms (ms)`,
        direct: fixed(direct.gaps.p50, 2),
        switchyard: fixed(switchyard.gaps.p50, 2),
        result: signed(gapP50, 2, ' ms'),
        target: 'within 1 ms',
        pass: Math.abs(gapP50) <= 1,
      });
      rows.push({
        measure: `Event gaps < ${delayMs / 4} ms (bunched)`,
        direct: `${fixed(bunched(direct.gapSamples) * 100, 1)}%`,
        switchyard: `${fixed(bunched(switchyard.gapSamples) * 100, 1)}%`,
        result: `min ${fixed(switchyard.gaps.min, 1)} / max ${fixed(switchyard.gaps.max, 1)} ms`,
        target: 'forwarded as they arrive',
        pass: paced,
      });
    }

    if (phases.has('memory')) {
      const result = (raw['memory'] = await phase('memory', () =>
        requestMemoryPhase(targets, PLAN.memory),
      ));
      const change = result.after.rss / result.before.rss - 1;
      const served = result.run.ok + result.run.non2xx;
      const capped =
        served < PLAN.memory.amount ? ` (time cap ${PLAN.memory.maxSeconds} s hit)` : '';
      rows.push({
        measure: `RSS across ${served.toLocaleString('en')} requests${capped} (MB)`,
        direct: '—',
        switchyard: `${mb(result.before.rss)} → ${mb(result.after.rss)} (peak ${mb(result.peak)})`,
        result: signed(change * 100, 1, '%'),
        target: '±10%',
        pass: Math.abs(change) <= 0.1,
      });
      rows.push({
        measure: 'Heap used, same span (MB)',
        direct: '—',
        switchyard: `${mb(result.before.heapUsed)} → ${mb(result.after.heapUsed)}`,
        result: signed((result.after.heapUsed / result.before.heapUsed - 1) * 100, 1, '%'),
        target: '',
        pass: null,
      });
      rows.push({
        measure: 'CPU per request over that span (µs)',
        direct: '—',
        switchyard: fixed(result.run.proxyCpuPerRequestUs, 0),
        result: `at ${fixed(result.run.rps, 0)} req/s`,
        target: '',
        pass: null,
      });
    }

    if (phases.has('streams')) {
      const result = (raw['streams'] = await phase('streams', () =>
        streamMemoryPhase(targets, PLAN.streams),
      ));
      const [warm, firstMeasured, ...rest] = result.rounds;
      const last = rest[rest.length - 1] ?? firstMeasured!;
      const count = PLAN.streams.count.toLocaleString('en');
      const failed = result.rounds.reduce((sum, round) => sum + round.burst.failed, 0);
      const whileChange = last.peakRss / firstMeasured!.peakRss - 1;
      const afterChange = last.after.rss / warm!.after.rss - 1;
      rows.push({
        measure: `RSS while ${count} streams open, round 1 → ${result.rounds.length - 1} peak (MB)`,
        direct: '—',
        switchyard: `${mb(firstMeasured!.peakRss)} → ${mb(last.peakRss)}`,
        result: signed(whileChange * 100, 1, '%'),
        target: '±10%',
        pass: Math.abs(whileChange) <= 0.1,
      });
      rows.push({
        measure: `RSS after ${count} streams, warm-up → round ${result.rounds.length - 1} (MB)`,
        direct: '—',
        switchyard: `${mb(warm!.after.rss)} → ${mb(last.after.rss)}`,
        result: signed(afterChange * 100, 1, '%'),
        target: '±10%',
        pass: Math.abs(afterChange) <= 0.1,
      });
      const held = firstMeasured!.held;
      const perStream = held
        ? (held.heapUsed + held.external - warm!.after.heapUsed - warm!.after.external) /
          PLAN.streams.count
        : Number.NaN;
      rows.push({
        measure: 'Live JS heap + external per open stream (KB)',
        direct: '—',
        switchyard: fixed(perStream / 1024, 1),
        result: `RSS idle ${mb(result.idle.rss)} MB`,
        target: '',
        pass: null,
      });
      rows.push({
        measure: 'Streams concurrently open upstream / failed',
        direct: '—',
        switchyard: `${Math.min(...result.rounds.map((round) => round.upstreamConcurrent))} / ${failed}`,
        result: '',
        target: `${count} / 0`,
        pass:
          failed === 0 &&
          result.rounds.every((round) => round.upstreamConcurrent >= PLAN.streams.count),
      });
    }

    process.stdout.write(`\n${renderTable(rows)}\n\n`);
    process.stdout.write(
      `Machine: ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}${quick ? '. QUICK run: counts are too small for the figures to mean much.' : ''}\n`,
    );
    const other = Object.entries(noise)
      .map(([name, cores]) => `${name} ${fixed(cores, 2)}`)
      .join(', ');
    process.stdout.write(
      `Source: ${sourceVersion()}. Load average at start ${fixed(load0, 2)}; CPU used by other processes during each phase (cores): ${other || 'n/a'}\n`,
    );
    const noisy = Object.entries(noise)
      .filter(([, cores]) => cores > 0.3)
      .map(([name]) => name);
    if (noisy.length > 0)
      process.stdout.write(
        `WARNING: other processes used > 0.3 cores during ${noisy.join(', ')}: absolute figures there are inflated; compare direct with Switchyard.\n`,
      );
    if (profileDir)
      process.stdout.write(
        `Gateway CPU profiles: ${profileDir}/gateway-<phase>.cpuprofile (npx tsx bench/profile-summary.ts <file>)\n`,
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
          { quick, plan: PLAN, node: process.version, cpus: availableParallelism(), raw },
          null,
          2,
        ),
      );
    return 0;
  } finally {
    await gateway?.stop();
    await reference?.stop();
    await fake?.stop();
    closeSync(logFd);
  }
}

function loopDelayText(delay: { p99: number; max: number } | undefined): string {
  return delay ? `${fixed(delay.p99, 1)} / ${fixed(delay.max, 1)}` : '—';
}

/** `git describe`-like label of the code measured, with `+dirty` when src/ has local edits. */
function sourceVersion(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return `${commit}${dirty ? '+dirty' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
