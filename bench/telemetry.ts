import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, gatewayModule } from './built.js';
import { processStats, profilerHandlers, serveIpc, startChild } from './ipc.js';
import { load, MASTER_KEY } from './load.js';
import { dashboard, dashboardChild } from './telemetry-dashboard.js';

/**
 * `npx tsx bench/telemetry.ts`: what telemetry costs, and how fast the dashboard stays with a big
 * store. Reports; never fails.
 *
 * 1. Throughput: gateway processes over one fake upstream — telemetry off (no metrics, no
 *    roll-ups), on with defaults (metrics + roll-ups + trace-context propagation), and on with
 *    traces exported over OTLP to a local sink (sample ratio 1) — loaded in interleaved rounds
 *    in one run, a fresh process per variant and round, the gateway pinned to a core of its own
 *    (see pinning below); req/s and gateway CPU per request for each, and each round's ratio to
 *    the 'off' process next to it. The gateways run the built dist/ (see built.ts).
 *    Same process: one process with an 'off' app and a 'default' app, loaded in turn (sameProcess).
 * 2. Dashboard: BENCH_EVENTS usage events (default 10,000,000) written to SQLite and Postgres
 *    over 30 days, roll-ups rebuilt with the backfill, then the API calls behind each dashboard
 *    page timed in a fresh gateway process (first load and warm).
 *
 * Environment: BENCH_QUICK=1 (short rounds, 200k events), BENCH_EVENTS=n, BENCH_PARTS=hooks,throughput,same-process,dashboard,
 * BENCH_STORES=sqlite,postgres, BENCH_PG (server URL), BENCH_DASHBOARD_KEEP=1, BENCH_DASHBOARD_PAUSE_MS (default 5000), BENCH_DASHBOARD_COLD=1 (restart Postgres, drop the page cache),
 * BENCH_ROUNDS (throughput, default 6), BENCH_VARIANTS (default off,default,traces; also metrics, rollups),
 * BENCH_PIN=0 (no CPU pinning), BENCH_PROFILE=dir (CPU profiles of the last round), BENCH_SOURCE=1 (run src/ through tsx).
 */

/** CPUs this runner may use, read before it pins itself (see cpuPinning). */
const CPUS = availableParallelism();

const MODE = process.env['TELEMETRY_BENCH_CHILD'];
if (MODE === 'dashboard') await dashboardChild();
else if (MODE) await child(MODE);
else await main();

/**
 * A gateway child: createApp over the fake upstream for each telemetry variant named (comma
 * separated; several apps in one process for the same-process comparison), each with its own store.
 */
async function child(names: string) {
  const directory = mkdtempSync(join(tmpdir(), 'switchyard-bench-telemetry-'));
  const variants: Record<string, object> = {
    off: { metrics: false, rollups: false },
    default: {},
    metrics: { rollups: false },
    rollups: { metrics: false },
    traces: { otlpEndpoint: process.env['BENCH_OTLP_URL']!, sampleRatio: 1 },
  };
  const { createApp } = await gatewayModule<typeof import('../src/app.js')>('app.js');
  const { validateConfig } =
    await gatewayModule<typeof import('../src/config/index.js')>('config/index.js');
  const apps: Array<Awaited<ReturnType<typeof createApp>>> = [];
  const urls: Record<string, string> = {};
  for (const variant of names.split(',')) {
    const telemetry = variants[variant];
    if (!telemetry) throw new Error(`unknown telemetry variant ${variant}`);
    const config = validateConfig({
      store: `sqlite:${join(directory, `${variant}.db`)}`,
      auth: { masterKey: MASTER_KEY },
      logging: { level: 'warn' },
      telemetry,
      providers: {
        fake: {
          type: 'openai',
          baseUrl: `${process.env['BENCH_UPSTREAM_URL']}/v1`,
          apiKey: 'sk-upstream',
        },
      },
      models: {
        'bench-model': {
          price: { input: '0.15', output: '0.60' },
          deployments: [
            { provider: 'fake', model: 'gpt-bench', cost: { input: '0.1', output: '0.4' } },
          ],
        },
      },
    });
    const app = await createApp({ config });
    apps.push(app);
    urls[variant] = (await app.listen(0, '127.0.0.1')).url;
  }
  serveIpc(Object.values(urls)[0]!, {
    stats: () => processStats(false),
    urls: () => urls,
    ...profilerHandlers(),
    async shutdown() {
      for (const app of apps) await app.close();
      rmSync(directory, { recursive: true, force: true });
      setImmediate(() => process.exit(0));
      return {};
    },
  });
}

async function main() {
  const quick = process.env['BENCH_QUICK'] === '1';
  const parts = new Set(
    (process.env['BENCH_PARTS'] ?? 'hooks,throughput,same-process,dashboard').split(','),
  );
  if (parts.has('hooks')) await hooks(quick ? 20_000 : 200_000);
  if (parts.has('throughput')) await throughput(quick);
  if (parts.has('same-process')) await sameProcess(quick);
  if (parts.has('dashboard'))
    await dashboard(
      Number(process.env['BENCH_EVENTS'] ?? (quick ? 200_000 : 10_000_000)),
      (process.env['BENCH_STORES'] ?? 'sqlite,postgres').split(','),
    );
}

/**
 * CPU time of the telemetry hooks alone per request (default settings: metrics, roll-ups,
 * trace-context propagation), in process: the HTTP hook, request start/end, one attempt. This is
 * the figure least disturbed by other load on the machine.
 */
async function hooks(count: number) {
  const directory = mkdtempSync(join(tmpdir(), 'switchyard-bench-hooks-'));
  // The built modules, as the gateway processes run them (see built.ts).
  ensureBuilt();
  const { createTelemetry } =
    await gatewayModule<typeof import('../src/telemetry/index.js')>('telemetry/index.js');
  const { createHealthTracker } =
    await gatewayModule<typeof import('../src/router/health.js')>('router/health.js');
  const { createCatalog } =
    await gatewayModule<typeof import('../src/router/catalog.js')>('router/catalog.js');
  const { createDatabase, migrate } =
    await gatewayModule<typeof import('../src/store/index.js')>('store/index.js');
  const { validateConfig } =
    await gatewayModule<typeof import('../src/config/index.js')>('config/index.js');
  const config = validateConfig({
    store: `sqlite:${join(directory, 'store.db')}`,
    providers: {
      azure: { type: 'azure-openai', partner: 'azure', baseUrl: 'http://127.0.0.1:9', apiKey: 'x' },
    },
    partners: { azure: {} },
    models: {
      m: {
        price: { input: '0.15', output: '0.6' },
        deployments: [{ provider: 'azure', model: 'm', cost: { input: '0.1', output: '0.4' } }],
      },
    },
  });
  const database = await createDatabase(config.store);
  await migrate(database);
  const telemetry = await createTelemetry({
    config,
    catalog: createCatalog(config),
    health: createHealthTracker(Date.now),
    database,
    clock: Date.now,
  });
  const observer = telemetry.observer!;
  const request = {
    method: 'POST',
    url: '/v1/chat/completions',
    headers: {} as Record<string, string>,
  };
  const once = (i: number) => {
    const requestId = `req_${i}`;
    const http = telemetry.http.requestStart(request, requestId);
    const scope = observer.requestStart({
      requestId,
      surface: 'openai-chat',
      operation: 'chat',
      model: 'm',
      stream: true,
      started: Date.now(),
      internal: false,
    });
    const attempt = observer.attemptStart({
      requestId,
      operation: 'chat',
      deployment: 'azure',
      providerType: 'azure-openai',
      partner: 'azure',
      upstreamModel: 'm',
      propagateHeaders: scope.headers,
    });
    attempt.end({ status: 200, errorClass: null, code: null, ms: 40 });
    scope.firstToken(40);
    scope.end({
      requestId,
      createdAt: Date.now(),
      tenantId: `t${i % 20}`,
      projectId: 'p',
      keyId: `k${i % 200}`,
      surface: 'openai-chat',
      modelRequested: 'm',
      model: 'm',
      deployment: 'azure',
      upstreamModel: 'm',
      partner: 'azure',
      attempts: 1,
      attemptLog: [],
      inputTokens: 1200,
      cachedInputTokens: 0,
      outputTokens: 300,
      reasoningTokens: 0,
      latencyMs: 400,
      ttfbMs: 40,
      status: 'ok',
      httpStatus: 200,
      errorCode: null,
      stream: true,
      sandbox: false,
      metadata: null,
    });
    http?.end(200);
  };
  for (let i = 0; i < 20_000; i++) once(i); // warm-up
  await telemetry.rollups?.flush();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    once(i);
    if (i % 5000 === 0) await telemetry.rollups?.flush(); // as the 5 s timer would under load
  }
  await telemetry.rollups?.flush();
  const used = process.cpuUsage(cpu);
  const wall = performance.now() - started;
  console.log(
    `\nTelemetry hooks, default settings: ${((used.user + used.system) / count).toFixed(1)} µs CPU per request (${((wall * 1000) / count).toFixed(1)} µs wall; ${count.toLocaleString()} requests, roll-up flushes included)`,
  );
  await telemetry.close();
  await database.close();
  rmSync(directory, { recursive: true, force: true });
}

async function throughput(quick: boolean) {
  const sink = createServer((req, res) =>
    req
      .resume()
      .on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')),
  );
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const otlp = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`;
  const pin = cpuPinning();
  const fake = await startChild('./fake-upstream.ts');
  let pinned = pin?.(fake.process.pid, 0);
  const variants = (process.env['BENCH_VARIANTS'] ?? 'off,default,traces').split(',');
  if (variants[0] !== 'off') variants.unshift('off');
  const rounds = quick ? 1 : Number(process.env['BENCH_ROUNDS'] ?? 6);
  const seconds = quick ? 2 : 6;
  const results = new Map<string, { rps: number[]; cpuUs: number[] }>(
    variants.map((variant) => [variant, { rps: [], cpuUs: [] }]),
  );
  try {
    for (let round = 0; round < rounds; round++) {
      // Interleaved, so drift on a shared machine hits every variant alike; a fresh process per
      // variant and round, because two processes of one build differ by several per cent for
      // the whole of their lives (heap layout, JIT decisions), which only many processes average out.
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        const gateway = await startChild('./telemetry.ts', {
          env: {
            TELEMETRY_BENCH_CHILD: variant,
            BENCH_UPSTREAM_URL: fake.url,
            BENCH_OTLP_URL: otlp,
          },
        });
        try {
          pinned &&= pin!(gateway.process.pid, 1);
          await load(gateway.url, { connections: 20, seconds: quick ? 1 : 3 }); // warm-up
          const profile = process.env['BENCH_PROFILE'] && round === rounds - 1;
          if (profile) await gateway.call('profile-start');
          const before = await gateway.call<{ cpuUserUs: number; cpuSystemUs: number }>('stats');
          const result = await load(gateway.url, { connections: 20, seconds });
          const after = await gateway.call<{ cpuUserUs: number; cpuSystemUs: number }>('stats');
          if (profile)
            await gateway.call('profile-stop', {
              path: join(process.env['BENCH_PROFILE']!, `telemetry-${variant}.cpuprofile`),
            });
          const cpu = after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs;
          results.get(variant)!.rps.push(result.rps);
          results.get(variant)!.cpuUs.push(cpu / Math.max(1, result.ok + result.non2xx));
          process.stderr.write(
            `[telemetry bench] round ${round + 1} ${variant}: ${result.rps.toFixed(0)} req/s, ${(cpu / Math.max(1, result.ok)).toFixed(0)} µs CPU/req, ${result.non2xx + result.errors} failed\n`,
          );
        } finally {
          await gateway.stop();
        }
      }
    }
  } finally {
    await fake.call('shutdown').catch(() => {});
    sink.close();
  }
  process.stderr.write(
    pinned
      ? '[telemetry bench] pinned: runner and fake upstream on CPU 0, the gateway (all threads) on CPU 1\n'
      : '[telemetry bench] not pinned (needs taskset and 2 CPUs; BENCH_PIN=0 turns it off)\n',
  );
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const off = results.get('off')!;
  console.log('\nTelemetry overhead (non-streaming chat, 20 connections, median of rounds)');
  console.log('variant   req/s    vs off   CPU µs/req   vs off');
  for (const variant of variants) {
    const { rps, cpuUs } = results.get(variant)!;
    const rpsDelta = (median(rps) / median(off.rps) - 1) * 100;
    const cpuDelta = (median(cpuUs) / median(off.cpuUs) - 1) * 100;
    console.log(
      `${variant.padEnd(8)} ${median(rps).toFixed(0).padStart(6)}  ${rpsDelta.toFixed(1).padStart(6)}%   ${median(cpuUs).toFixed(0).padStart(9)}   ${cpuDelta.toFixed(1).padStart(6)}%`,
    );
  }
  // Paired: each round's variant against the 'off' run next to it, so load drift between rounds cancels.
  for (const variant of variants.filter((name) => name !== 'off')) {
    const { rps, cpuUs } = results.get(variant)!;
    const rpsRatios = rps.map((value, round) => (value / off.rps[round]! - 1) * 100);
    const cpuRatios = cpuUs.map((value, round) => (value / off.cpuUs[round]! - 1) * 100);
    console.log(
      `paired per round, ${variant} vs off: req/s ${rpsRatios.map((value) => `${value.toFixed(1)}%`).join(' ')} (median ${median(rpsRatios).toFixed(1)}%); CPU/req ${cpuRatios.map((value) => `${value.toFixed(1)}%`).join(' ')} (median ${median(cpuRatios).toFixed(1)}%)`,
    );
  }
}

/**
 * The same comparison inside one process: an app with telemetry off and one with defaults side
 * by side, loaded in turn for many short rounds. Process-to-process differences (heap layout,
 * JIT decisions) cancel; the price is that the two apps share compiled code, so call sites the
 * telemetry hooks make polymorphic are polymorphic for 'off' too.
 */
async function sameProcess(quick: boolean) {
  const pin = cpuPinning();
  const fake = await startChild('./fake-upstream.ts');
  const gateway = await startChild('./telemetry.ts', {
    env: { TELEMETRY_BENCH_CHILD: 'off,default', BENCH_UPSTREAM_URL: fake.url },
  });
  const pinned = pin?.(fake.process.pid, 0) && pin(gateway.process.pid, 1);
  const urls = await gateway.call<Record<string, string>>('urls');
  const rounds = quick ? 2 : Number(process.env['BENCH_ROUNDS'] ?? 12);
  const seconds = quick ? 1 : 4;
  const results = {
    off: { rps: [] as number[], cpuUs: [] as number[] },
    default: { rps: [] as number[], cpuUs: [] as number[] },
  };
  try {
    for (const variant of ['off', 'default'] as const)
      await load(urls[variant]!, { connections: 20, seconds: quick ? 1 : 4 }); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const variant of round % 2 === 0
        ? (['off', 'default'] as const)
        : (['default', 'off'] as const)) {
        const before = await gateway.call<{ cpuUserUs: number; cpuSystemUs: number }>('stats');
        const result = await load(urls[variant]!, { connections: 20, seconds });
        const after = await gateway.call<{ cpuUserUs: number; cpuSystemUs: number }>('stats');
        results[variant].rps.push(result.rps);
        results[variant].cpuUs.push(
          (after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) /
            Math.max(1, result.ok + result.non2xx),
        );
      }
    }
  } finally {
    await gateway.stop();
    await fake.call('shutdown').catch(() => {});
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const rpsRatios = results.default.rps.map(
    (value, round) => (value / results.off.rps[round]! - 1) * 100,
  );
  const cpuRatios = results.default.cpuUs.map(
    (value, round) => (value / results.off.cpuUs[round]! - 1) * 100,
  );
  console.log(
    `\nTelemetry overhead in one process (${rounds} rounds of ${seconds} s per app${pinned ? ', pinned' : ''}): off ${median(results.off.rps).toFixed(0)} req/s ${median(results.off.cpuUs).toFixed(0)} µs CPU/req, default ${median(results.default.rps).toFixed(0)} req/s ${median(results.default.cpuUs).toFixed(0)} µs CPU/req`,
  );
  console.log(
    `paired per round, default vs off: req/s median ${median(rpsRatios).toFixed(1)}% (${rpsRatios.map((value) => value.toFixed(1)).join(' ')}); CPU/req median ${median(cpuRatios).toFixed(1)}% (${cpuRatios.map((value) => value.toFixed(1)).join(' ')})`,
  );
}

/**
 * Pins the load generator and the fake upstream to CPU 0 and each gateway to CPU 1, so the
 * gateway under load has a core of its own and its throughput is set by its own CPU per
 * request, not by where the scheduler put three busy processes on two cores. `pin(pid, cpu)`
 * returns false when it could not (no taskset, fewer than 2 CPUs, BENCH_PIN=0); the runner's
 * CPU count is read once at load, before it pins itself, since pinning shrinks what
 * `availableParallelism` sees (and children started later inherit the runner's CPU).
 */
function cpuPinning(): ((pid: number | undefined, cpu: number) => boolean) | undefined {
  if (process.env['BENCH_PIN'] === '0' || CPUS < 2) return undefined;
  // `taskset -a` fails when one of the process's threads ends while it walks them: try again.
  const pin = (pid: number | undefined, cpu: number) =>
    pid !== undefined &&
    [1, 2, 3].some(
      () =>
        spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' })
          .status === 0,
    );
  return pin(process.pid, 0) ? pin : undefined;
}
