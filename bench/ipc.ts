import { type ChildProcess, fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ensureBuilt } from './built.js';

/**
 * The runner talks to its two children (fake upstream, gateway) over the Node IPC channel, so
 * neither needs an admin route: a request `{ id, type, ...payload }` gets one reply `{ id, ... }`.
 * Each child first announces `{ type: 'ready', url }`.
 */

/** Resource figures a child reports about itself. */
export interface ProcessStats {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** process.cpuUsage() of the child, µs. */
  cpuUserUs: number;
  cpuSystemUs: number;
}

/** Snapshot of the current process (after a full GC when asked and `--expose-gc` is on). */
export function processStats(collect = false): ProcessStats {
  if (collect) globalThis.gc?.();
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
  };
}

type Handler = (message: Record<string, unknown>) => unknown;

/** Child side: answers the runner's requests with `handlers[type]`; announces readiness. */
export function serveIpc(url: string, handlers: Record<string, Handler>): void {
  process.on('message', (raw) => {
    const message = raw as { id: number; type: string } & Record<string, unknown>;
    const handler = handlers[message.type];
    void Promise.resolve()
      .then(() => (handler ? handler(message) : { error: `unknown message ${message.type}` }))
      .then(
        (reply) => process.send?.({ ...(reply as object), id: message.id }),
        (error: unknown) => process.send?.({ id: message.id, error: String(error) }),
      );
  });
  // The runner going away must not leave an orphan holding a port.
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', url });
}

/** A started child with a request/reply helper. */
export interface Child {
  url: string;
  process: ChildProcess;
  call<T = Record<string, unknown>>(type: string, payload?: Record<string, unknown>): Promise<T>;
  /** Asks the child to exit, waits for it (so `--cpu-prof` files get written). */
  stop(): Promise<void>;
}

/** Options for {@link startChild}. */
export interface ChildOptions {
  env?: Record<string, string>;
  /** Extra node flags (e.g. `--cpu-prof`). `--import tsx` and `--expose-gc` are always added. */
  nodeFlags?: string[];
  /** Where the child's stdout goes: a file descriptor, or 'ignore'. stderr is inherited. */
  stdout?: number | 'ignore';
  /** A program (and its arguments) that runs node: `['valgrind', '--tool=callgrind']`. */
  wrapper?: string[];
}

/** Forks `bench/<file>` under tsx and waits for its `ready` message (building `dist/` first if stale: see built.ts). */
export async function startChild(file: string, options: ChildOptions = {}): Promise<Child> {
  ensureBuilt();
  const path = fileURLToPath(new URL(file, import.meta.url));
  const [wrapper, ...wrapperArgs] = options.wrapper ?? [];
  const nodeArgs = ['--import', 'tsx', '--expose-gc', ...(options.nodeFlags ?? [])];
  const child = fork(path, [], {
    // Explicit, so the child does not inherit the runner's tsx CLI flags.
    execArgv: wrapper ? [...wrapperArgs, process.execPath, ...nodeArgs] : nodeArgs,
    ...(wrapper && { execPath: wrapper }),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', options.stdout ?? 'ignore', 'inherit', 'ipc'],
  });
  let next = 0;
  const pending = new Map<number, (reply: Record<string, unknown>) => void>();
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`${file} exited with ${code} before it was ready`)),
    );
    child.on('message', (raw) => {
      const message = raw as Record<string, unknown>;
      if (message['type'] === 'ready') return resolve(String(message['url']));
      const id = message['id'];
      if (typeof id === 'number') {
        pending.get(id)?.(message);
        pending.delete(id);
      }
    });
  });
  let stopping = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      // A child that dies mid-run fails every pending call instead of hanging the runner.
      for (const answer of pending.values())
        answer({ error: `${file} exited (code ${code}, signal ${signal})` });
      pending.clear();
      if (!stopping)
        process.stderr.write(
          `[bench] ${file} exited unexpectedly (code ${code}, signal ${signal})\n`,
        );
      resolve();
    }),
  );
  return {
    url,
    process: child,
    call<T>(type: string, payload: Record<string, unknown> = {}) {
      const id = ++next;
      if (child.exitCode !== null || child.signalCode !== null)
        return Promise.reject(new Error(`${file} is not running`));
      return new Promise<T>((resolve, reject) => {
        pending.set(id, (reply) =>
          reply['error'] ? reject(new Error(String(reply['error']))) : resolve(reply as T),
        );
        child.send({ ...payload, id, type });
      });
    },
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ id: -1, type: 'shutdown' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Child side: `profile-start` / `profile-stop { path }` handlers running V8's sampling CPU
 * profiler (the one behind `--cpu-prof`) in this process, writing a .cpuprofile on stop.
 */
export function profilerHandlers(): Record<
  'profile-start' | 'profile-stop' | 'heap-start' | 'heap-stop',
  Handler
> {
  let profiler: Session | undefined;
  let heap: Session | undefined;
  return {
    // Sampled allocations, collected or not (every 4 KiB allocated on average): what a request
    // allocates, for the GC's share of its CPU. `heap-stop { path }` writes a .heapprofile.
    // `{ survivors: true }` leaves out what a scavenge collected: what outlived the young
    // generation (copied, then promoted to old space), the costly part of the GC's work.
    async 'heap-start'(message) {
      heap = new Session();
      heap.connect();
      await heap.post('HeapProfiler.enable');
      await heap.post('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: message['survivors'] !== true,
      } as never);
      return {};
    },
    async 'heap-stop'(message) {
      if (!heap) return {};
      const { profile } = await heap.post('HeapProfiler.stopSampling');
      heap.disconnect();
      heap = undefined;
      writeFileSync(String(message['path']), JSON.stringify(profile));
      return {};
    },
    async 'profile-start'() {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
      return {};
    },
    async 'profile-stop'(message) {
      if (!profiler) return {};
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      writeFileSync(String(message['path']), JSON.stringify(profile));
      return {};
    },
  };
}

/** Child side: a `loop-delay` handler reporting event-loop delay (ms) since its last call. */
export function loopDelayHandler(): Record<'loop-delay', Handler> {
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  return {
    'loop-delay'() {
      const figures = {
        p50: loopDelay.percentile(50) / 1e6,
        p99: loopDelay.percentile(99) / 1e6,
        max: loopDelay.max / 1e6,
      };
      loopDelay.reset();
      return figures;
    },
  };
}
