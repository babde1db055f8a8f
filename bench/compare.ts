import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { ensureBuilt } from './built.js';
import { type Child, startChild } from './ipc.js';
import { CHAT_BODY, CHAT_PATH, HEADERS, MASTER_KEY } from './load.js';
import { freePort, startServe } from './serve.js';
import { streamLoad } from './streams.js';

/**
 * `npx tsx bench/compare.ts`: one run, side by side and interleaved in rounds, of the same load
 * against the fake upstream directly, the naive Node proxy (bench/reference-proxy.ts), nginx
 * (Debian's nginx-light, when installed; skipped with a message otherwise), Switchyard in one
 * process and Switchyard with `server.workers: N`. Prints req/s (or streams/s), the CPU each
 * proxy spent per request (its whole process tree, from /proc) and the kernel's part of it
 * (stime), and every ratio: to direct and to the naive proxy, and within each round, outside the
 * kernel too. Switchyard runs as built (`dist/`), with the default config plus a master key:
 * SQLite, telemetry and logs at their defaults (logs at `info` to a file).
 *
 * Environment: BENCH_SECONDS (per measurement, default 8), BENCH_ROUNDS (default 3),
 * BENCH_CONNECTIONS (default 20), BENCH_WORKERS (comma list of worker counts, default `1,2`),
 * BENCH_MODE (`json` non-streaming, default, or `stream`: 200-event streams, read by a
 * closed-loop undici client that also notes the time to first byte), BENCH_STREAM_CHUNKS
 * (default 200), BENCH_PROFILE (a directory: V8 CPU profile of Switchyard ×1 over its measured
 * rounds, `switchyard-<mode>.cpuprofile`; summarise with bench/profile-categories.ts),
 * BENCH_BASELINE (the root of another checkout, built: its gateway joins the rounds as
 * `Switchyard ×1 (baseline)`, for before/after figures under the same load), BENCH_NODE_FLAGS
 * (space-separated V8/Node flags for Switchyard ×1 only, e.g. `--max-semi-space-size=32`; with
 * BENCH_BASELINE set to this checkout, the same code with and without the flags).
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const seconds = Number(process.env['BENCH_SECONDS'] ?? 8);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const connections = Number(process.env['BENCH_CONNECTIONS'] ?? 20);
const workerCounts = (process.env['BENCH_WORKERS'] ?? '1,2').split(',').map(Number);
const stream = process.env['BENCH_MODE'] === 'stream';
const chunks = Number(process.env['BENCH_STREAM_CHUNKS'] ?? 200);
const profileDir = process.env['BENCH_PROFILE'];
const log = (message: string) => process.stderr.write(`[compare] ${message}\n`);

/** A target under load: its origin and the pids whose CPU counts as its own. */
interface Target {
  name: string;
  origin: string;
  pids: () => number[];
  stop(): Promise<void>;
}

const TICK_US = 1e6 / Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100);

/** utime + stime of a process, µs (0 once it is gone). */
function cpuOf(pid: number): number {
  return kernelAndUser(pid).reduce((sum, value) => sum + value, 0);
}

/** stime (the kernel's time on the process's behalf: sockets, files) and utime, µs. */
function kernelAndUser(pid: number): [number, number] {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return [Number(fields[12]) * TICK_US, Number(fields[11]) * TICK_US];
  } catch {
    return [0, 0];
  }
}

const kernelOf = (pids: number[]) => pids.reduce((sum, pid) => sum + kernelAndUser(pid)[0], 0);

/** A process and its descendants. */
function tree(pid: number): number[] {
  const all = [pid];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (children) for (const child of children.split(/\s+/)) all.push(...tree(Number(child)));
    }
  } catch {
    // gone
  }
  return all;
}

function fromChild(name: string, child: Child): Target {
  return {
    name,
    origin: child.url,
    pids: () => tree(child.process.pid!),
    stop: () => child.stop(),
  };
}

/** nginx as a reverse proxy with upstream keep-alive, one worker process (as Node has one loop). */
async function startNginx(upstream: string, directory: string): Promise<Target | undefined> {
  const binary = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(
    (path) => spawnSync(path, ['-v']).status === 0,
  );
  if (!binary) {
    log('nginx not installed (apt-get install -y nginx-light): skipped');
    return undefined;
  }
  const port = await freePort();
  const conf = join(directory, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${join(directory, 'nginx.pid')};
error_log ${join(directory, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${directory};
  proxy_temp_path ${directory};
  upstream fake { server ${new URL(upstream).host}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`,
  );
  const child = spawn(binary, ['-c', conf, '-p', directory], { stdio: 'ignore' });
  await waitListening(port);
  return {
    name: 'nginx',
    origin: `http://127.0.0.1:${port}`,
    pids: () => tree(child.pid!),
    stop: async () => {
      child.kill('SIGQUIT');
      await once(child, 'exit');
    },
  };
}

/** Switchyard with `server.workers: n`, as `npm start` runs it (dist/cli/main.js serve). */
async function startWorkers(upstream: string, directory: string, n: number): Promise<Target> {
  const { port, child } = await startServe({
    root: ROOT,
    directory,
    label: 'switchyard',
    workers: n,
    upstream,
  });
  return {
    name: `Switchyard ×${n}`,
    origin: `http://127.0.0.1:${port}`,
    pids: () => tree(child.pid!),
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createServer().listen(port, '127.0.0.1');
      socket.once('listening', () => socket.close(() => resolve(false)));
      socket.once('error', () => resolve(true));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

async function hit(origin: string, duration: number) {
  if (stream) {
    const result = await streamLoad(origin, { connections, seconds: duration });
    return { ...result, p50: result.latencyP50 };
  }
  const result = await autocannon({
    url: origin + CHAT_PATH,
    method: 'POST',
    headers: HEADERS,
    body: CHAT_BODY,
    connections,
    duration,
  });
  return {
    ok: result['2xx'],
    bad: result.non2xx + result.errors,
    rps: result['2xx'] / result.duration,
    p50: result.latency.p50,
    ttfbP50: Number.NaN,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

async function main() {
  ensureBuilt();
  const directory = mkdtempSync(join(tmpdir(), 'switchyard-compare-'));
  const fake = await startChild('./fake-upstream.ts');
  await fake.call('configure', { chunks: stream ? chunks : 10, delayMs: 0 });
  const targets: Target[] = [
    { name: 'direct', origin: fake.url, pids: () => [], stop: async () => {} },
    fromChild(
      'naive proxy',
      await startChild('./reference-proxy.ts', { env: { BENCH_UPSTREAM_URL: fake.url } }),
    ),
  ];
  const nginx = await startNginx(fake.url, directory);
  if (nginx) targets.push(nginx);
  let single: Child | undefined;
  for (const n of workerCounts) {
    if (n === 1) {
      single = await startChild('./gateway-process.ts', {
        env: {
          BENCH_UPSTREAM_URL: fake.url,
          BENCH_MASTER_KEY: MASTER_KEY,
          BENCH_LOG_LEVEL: 'info',
          BENCH_UPSTREAM_CONNECTIONS: '',
        },
        stdout: 'ignore',
        nodeFlags: (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean),
      });
      targets.push(fromChild('Switchyard ×1', single));
    } else targets.push(await startWorkers(fake.url, directory, n));
  }
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  // Another checkout's gateway (its bench/gateway-process.ts and dist/), same config, in the
  // same interleaved rounds: before/after figures that share the machine's load of the moment.
  const baseline = process.env['BENCH_BASELINE'];
  if (baseline) {
    const before = await startChild(
      pathToFileURL(join(baseline, 'bench/gateway-process.ts')).href,
      {
        env: {
          BENCH_UPSTREAM_URL: fake.url,
          BENCH_MASTER_KEY: MASTER_KEY,
          BENCH_LOG_LEVEL: 'info',
          BENCH_UPSTREAM_CONNECTIONS: '',
        },
        stdout: 'ignore',
      },
    );
    targets.push(fromChild('Switchyard ×1 (baseline)', before));
  }
  const load0 = loadavg()[0]!;
  log(
    `${stream ? `${chunks}-event streams` : 'non-streaming'}, ${connections} connections, ${rounds} rounds × ${seconds} s per target, load average ${load0.toFixed(1)}`,
  );
  const figures = new Map<
    string,
    {
      rps: number[];
      cpu: number[];
      kernel: number[];
      p50: number[];
      ttfb: number[];
      bad: number;
    }
  >();
  const commitsBefore = single
    ? await single.call<{ events: number; commits: number }>('commits')
    : undefined;
  // Fresh processes compile as they go: a longer first warm-up for each before any measurement.
  for (const target of targets) await hit(target.origin, 4);
  for (let round = 0; round < rounds; round++) {
    for (const target of targets) {
      await hit(target.origin, 1); // warm-up
      const pids = target.pids();
      const profiled =
        profileDir !== undefined && single !== undefined && target.name === 'Switchyard ×1';
      if (profiled) await single!.call('profile-start');
      const cpu0 = pids.reduce((sum, pid) => sum + cpuOf(pid), 0);
      const kernel0 = kernelOf(pids);
      const result = await hit(target.origin, seconds);
      const cpu = pids.reduce((sum, pid) => sum + cpuOf(pid), 0) - cpu0;
      const kernel = kernelOf(pids) - kernel0;
      if (profiled)
        await single!.call('profile-stop', {
          path: join(
            profileDir!,
            `switchyard-${stream ? 'stream' : 'json'}-${round + 1}.cpuprofile`,
          ),
        });
      const entry = figures.get(target.name) ?? {
        rps: [],
        cpu: [],
        kernel: [],
        p50: [],
        ttfb: [],
        bad: 0,
      };
      entry.rps.push(result.rps);
      entry.cpu.push(result.ok > 0 ? cpu / result.ok : Number.NaN);
      entry.kernel.push(result.ok > 0 ? kernel / result.ok : Number.NaN);
      entry.p50.push(result.p50);
      entry.ttfb.push(result.ttfbP50);
      entry.bad += result.bad;
      figures.set(target.name, entry);
      log(
        `round ${round + 1} ${target.name}: ${result.rps.toFixed(0)}/s, ${(cpu / result.ok).toFixed(0)} µs CPU each (kernel ${(kernel / result.ok).toFixed(0)})${stream ? `, TTFB p50 ${result.ttfbP50.toFixed(1)} ms` : ''}`,
      );
    }
  }
  const commitsAfter = single
    ? await single.call<{ events: number; commits: number }>('commits')
    : undefined;
  const load1 = loadavg()[0]!;

  const direct = median(figures.get('direct')!.rps);
  const naive = figures.get('naive proxy')!;
  const unit = stream ? 'streams/s' : 'req/s';
  const ttfbColumns = stream ? ' TTFB p50 (ms) | TTFB × naive |' : '';
  const rows = [
    `| Target | ${unit} (median) | × direct | × naive proxy | CPU per ${stream ? 'stream' : 'request'} (µs) | of which kernel | CPU × naive | latency p50 (ms) |${ttfbColumns} failures |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|${stream ? '---:|---:|' : ''}---:|`,
  ];
  const naiveTtfb = median(naive.ttfb);
  for (const [name, entry] of figures) {
    const rps = median(entry.rps);
    const cpu = median(entry.cpu);
    const ttfb = median(entry.ttfb);
    const ttfbCells = stream
      ? ` ${ttfb.toFixed(1)} | ${name === 'naive proxy' ? '—' : (ttfb / naiveTtfb).toFixed(2)} |`
      : '';
    rows.push(
      `| ${name} | ${rps.toFixed(0)} | ${(rps / direct).toFixed(2)} | ${name === 'direct' ? '—' : (rps / median(naive.rps)).toFixed(2)} | ${name === 'direct' ? '—' : cpu.toFixed(0)} | ${name === 'direct' ? '—' : median(entry.kernel).toFixed(0)} | ${name === 'direct' ? '—' : (cpu / median(naive.cpu)).toFixed(2)} | ${median(entry.p50).toFixed(1)} |${ttfbCells} ${entry.bad} |`,
    );
  }
  process.stdout.write(`${rows.join('\n')}\n`);
  // The host moves every target's figures by up to ±25% between rounds; ratios taken within a
  // round (the same moment of the host) are steadier than ratios of the medians above.
  const perRound = (a: number[], b: number[]) => a.map((value, index) => value / b[index]!);
  const spread = (ratios: number[]) =>
    `${median(ratios).toFixed(2)} (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
  const ours = figures.get('Switchyard ×1');
  if (ours) {
    process.stdout.write(
      `Within each round, Switchyard ×1 against the naive proxy: CPU × ${spread(perRound(ours.cpu, naive.cpu))}${stream ? `, TTFB × ${spread(perRound(ours.ttfb, naive.ttfb))}` : ''}\n`,
    );
    // What the kernel does for both (loopback TCP) costs more on some hosts than on others;
    // the process's own time alone says what Switchyard adds in a way that moves less by host.
    const user = (entry: { cpu: number[]; kernel: number[] }) =>
      entry.cpu.map((value, index) => value - entry.kernel[index]!);
    process.stdout.write(
      `Within each round, outside the kernel (utime): Switchyard ×1 against the naive proxy × ${spread(perRound(user(ours), user(naive)))}; the kernel's time × ${spread(perRound(ours.kernel, naive.kernel))}\n`,
    );
    const before = figures.get('Switchyard ×1 (baseline)');
    if (before) {
      const cpu = perRound(ours.cpu, before.cpu);
      process.stdout.write(
        `Within each round, against the baseline: CPU × ${spread(cpu)}, ${unit} × ${spread(perRound(ours.rps, before.rps))}${stream ? `, TTFB × ${spread(perRound(ours.ttfb, before.ttfb))}` : ''}; CPU lower in ${cpu.filter((ratio) => ratio < 1).length} of ${cpu.length} rounds\n`,
      );
    }
  }
  if (commitsBefore && commitsAfter) {
    const events = commitsAfter.events - commitsBefore.events;
    const commits = commitsAfter.commits - commitsBefore.commits;
    process.stdout.write(
      `Switchyard ×1 usage group commits: ${events} events in ${commits} commits = ${(events / commits).toFixed(2)} events per commit\n`,
    );
  }
  process.stdout.write(`Load average: ${load0.toFixed(1)} at start, ${load1.toFixed(1)} at end\n`);
  for (const target of targets.slice(1)) await target.stop();
  await fake.stop();
  rmSync(directory, { recursive: true, force: true });
}

await main();
