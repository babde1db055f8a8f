import type { AgentRunStore } from '../../store/runtime/agent-runs.js';
import type { RuntimeDeps } from '../deps.js';
import type { MemoryStore } from '../tools/memory-store.js';
import { attachBuiltins } from '../tools/memory-tool.js';
import type { ResponseObject } from '../types.js';
import type { AgentOptions, AgentRuntime } from './agent-types.js';
import { RunStopped } from './loop/errors.js';
import { runAgent } from './loop/run-agent.js';
import type { AgentLimits, AgentRequest, AgentState, Checkpointer } from './loop/types.js';
import type { RunBus, RunMessage } from './run-bus.js';
import type { WebhookDispatcher } from './webhook-types.js';
import { merged } from '../../core/objects.js';

/**
 * The background runs of this process (service.ts creates them; `agent_runs`,
 * store/runtime/agent-runs.ts): each runs here under a lease it renews; a worker takes over runs
 * whose lease expired, a cancel of a run no one ends is taken over, and at shutdown every run is
 * handed over to the other replicas.
 */

/** The statuses a run ends in. */
export const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'incomplete']);

/** What the background runs share with the rest of the agent runtime (service.ts). */
export interface BackgroundRunsContext {
  deps: RuntimeDeps;
  options: AgentOptions;
  limits: AgentLimits;
  memory: MemoryStore;
  webhooks: WebhookDispatcher;
  runs: () => Promise<AgentRunStore>;
  owner: string;
  leaseMs: number;
  replicaPrefix: string | undefined;
  bus: RunBus;
}

/** The background runs of this process: the agent runtime's worker and its lifecycle. */
export interface BackgroundRuns extends Pick<AgentRuntime, 'start' | 'stop' | 'close'> {
  /** Local runs, by response id: what stops the run, what stops its tool calls, and its end. */
  active: Map<string, LocalRun>;
  /** Whether this process is handing its runs over (shutdown): new runs are not started here. */
  isHandingOver(): boolean;
  /** Runs a background run this process holds the lease of, in the background. */
  launch(id: string): void;
  /**
   * Waits for the run to end after a cancel; when it has not ended within `cancelTakeoverMs`
   * (its owner is dead, or never got the message), takes it over and ends it here.
   */
  awaitCancel(tenantId: string, id: string): Promise<ResponseObject | undefined>;
}

/** The background runs of this process; {@link BackgroundRuns.start} starts the worker. */
export function createBackgroundRuns(context: BackgroundRunsContext): BackgroundRuns {
  const { deps, options, limits, memory, webhooks, runs, owner, leaseMs, replicaPrefix, bus } =
    context;
  const cancelTakeoverMs = options.cancelTakeoverMs ?? 1_000;
  const log = options.logger;
  /** Local runs, by response id: what stops the run, what stops its tool calls, and its end. */
  const active = new Map<string, LocalRun>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Set while handing over (shutdown): checkpoints stop their runs, new runs are not started here. */
  let stopping: Promise<void> | undefined;
  let handingOver = false;
  let busStarted = false;

  /** Runs a background run this process holds the lease of, renewing it; resolves when it ends or is lost. */
  async function execute(id: string): Promise<void> {
    const store = await runs();
    const row = await store.get(null, id);
    if (!row || TERMINAL.has(row.status)) return;
    if (row.secretsError) {
      // Its tool secrets were sealed under a key this process lacks (runtime.secretKey differs): fail it, saying why.
      await webhooks.enqueue({
        responseId: id,
        tenantId: row.tenantId,
        status: 'failed',
        at: deps.clock(),
      });
      await store.fail(
        id,
        owner,
        { code: 'tool_secrets_unavailable', message: row.secretsError },
        deps.clock(),
      );
      await store.release(id, owner);
      webhooks.kick();
      return;
    }
    const request = row.request as unknown as AgentRequest;
    request.httpTools = attachBuiltins(request.httpTools, memory, deps.clock);
    const state = row.state as unknown as AgentState;
    const shell = merged(row.response as ResponseObject, { status: 'in_progress' as const });
    const controller = new AbortController();
    const tools = new AbortController();
    let ended!: () => void;
    const local: LocalRun = {
      stop: (reason) => {
        controller.abort(new RunStopped(reason));
        // A handover lets a tool call in flight finish (stop() interrupts it after the grace).
        if (reason !== 'handover') tools.abort(new RunStopped(reason));
      },
      interrupt: () => tools.abort(new RunStopped('handover')),
      ended: new Promise<void>((resolve) => {
        ended = resolve;
      }),
    };
    active.set(id, local);
    const renew = setInterval(
      () => {
        const now = deps.clock();
        store
          .renew(id, owner, now + leaseMs, now)
          .then(({ held, cancelRequested }) => {
            if (!held) local.stop('lost');
            else if (cancelRequested) local.stop('cancel');
          })
          .catch(() => undefined);
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    const checkpoints: Checkpointer = {
      async save(current, response) {
        const now = deps.clock();
        const status = current.done ? response.status : 'in_progress';
        // Queued before the terminal write, so a crash between the two cannot lose the webhook.
        if (current.done)
          await webhooks.enqueue({ responseId: id, tenantId: row.tenantId, status, at: now });
        const result = await store.checkpoint(id, owner, {
          status,
          state: current,
          response,
          events: current.events,
          leaseExpiresAt: now + leaseMs,
          now,
        });
        if (!result.held) return { stop: 'lost' };
        if (result.cancelRequested && !current.done) return { stop: 'cancel' };
        // Shutting down: what the run has is recorded (above); the next owner goes on from it.
        if (handingOver && !current.done) return { stop: 'handover' };
        return { stop: null };
      },
      async persisted() {
        if ((await store.status(id)) === null)
          await deps.repository.deleteResponse(row.tenantId, id);
      },
    };
    try {
      if (row.cancelRequested) local.stop('cancel');
      else if (handingOver) local.stop('handover');
      await runAgent(
        { deps, limits, request, shell, state, checkpoints },
        { signal: controller.signal, toolSignal: tools.signal },
      );
      webhooks.kick();
    } catch (error) {
      if (!(error instanceof RunStopped)) throw error;
    } finally {
      clearInterval(renew);
      active.delete(id);
      await store.release(id, owner).catch(() => undefined);
      ended();
    }
  }

  function launch(id: string): void {
    execute(id).catch((error: unknown) =>
      log?.warn({ err: error, responseId: id }, 'background run stopped by an error'),
    );
  }

  /** Takes over runs whose lease expired and runs them here. */
  async function sweep(): Promise<void> {
    if (handingOver) return;
    const store = await runs();
    const now = deps.clock();
    for (const id of await store.expired(now, 50)) {
      if (active.has(id) || handingOver) continue;
      if (await store.claim(id, owner, now + leaseMs, now)) launch(id);
    }
  }

  /** Another life of this replica (killed) held these runs: they are ours again, now. */
  async function reclaim(): Promise<void> {
    if (replicaPrefix === undefined) return;
    const now = deps.clock();
    const ids = await (await runs()).reclaim(replicaPrefix, owner, now + leaseMs, now);
    for (const id of ids) if (!active.has(id)) launch(id);
  }

  function onMessage(message: RunMessage): void {
    if (message.kind === 'cancel') active.get(message.id)?.stop('cancel');
    else if (!stopped && !handingOver) sweep().catch(() => undefined);
  }

  /**
   * Waits for the run to end after a cancel; when it has not ended within `cancelTakeoverMs`
   * (its owner is dead, or never got the message), takes it over and ends it here.
   */
  async function awaitCancel(tenantId: string, id: string): Promise<ResponseObject | undefined> {
    const store = await runs();
    const deadline = Date.now() + cancelTakeoverMs;
    for (;;) {
      const current = await store.get(tenantId, id);
      if (!current || TERMINAL.has(current.status)) return current?.response as ResponseObject;
      const local = active.get(id);
      if (local) {
        // Our own run ends at its next await; it is not taken from ourselves.
        await Promise.race([local.ended, sleep(10_000)]);
        continue;
      }
      // No live lease (its owner died and the lease ran out, or it was handed over): no one to wait for.
      const unowned = current.leaseOwner === null || (current.leaseExpiresAt ?? 0) < deps.clock();
      if (unowned || Date.now() >= deadline) break;
      await sleep(25);
    }
    const now = deps.clock();
    if (await store.seize(id, owner, now + leaseMs, now)) await execute(id);
    const done = await store.get(tenantId, id);
    return done?.response as ResponseObject | undefined;
  }

  return {
    active,
    isHandingOver: () => handingOver,
    launch,
    awaitCancel,
    start() {
      stopped = false;
      stopping = undefined;
      handingOver = false;
      const interval = options.workerIntervalMs ?? 5_000;
      if (!busStarted) {
        busStarted = true;
        bus.start(onMessage).catch(() => undefined);
      }
      reclaim().catch((error: unknown) =>
        log?.warn({ err: error }, 'could not take back the runs of this replica'),
      );
      const tick = () => {
        if (stopped) return;
        sweep()
          .catch(() => undefined)
          .finally(() => {
            if (!stopped && interval > 0) timer = setTimeout(tick, interval);
          });
      };
      tick();
      webhooks.start();
    },
    stop(graceMs = 0) {
      stopping ??= (async () => {
        stopped = true;
        handingOver = true;
        if (timer) clearTimeout(timer);
        const handed = [...active.values()];
        for (const run of handed) run.stop('handover');
        const all = Promise.all(handed.map((run) => run.ended));
        // Tool calls still running after the grace are interrupted (recorded so by the next owner).
        const grace = setTimeout(() => {
          for (const run of handed) run.interrupt();
        }, graceMs);
        await all;
        clearTimeout(grace);
        if (handed.length > 0) await bus.publish({ kind: 'released' });
        await webhooks.stop();
      })();
      return stopping;
    },
    async close() {
      await this.stop();
      busStarted = false;
      await bus.close();
    },
  };
}

/** A run executing in this process. */
export interface LocalRun {
  /** Stops the run at its next step (a handover lets a tool call in flight finish first). */
  stop(reason: 'cancel' | 'lost' | 'handover'): void;
  /** Aborts a tool call in flight (the handover's grace is over). */
  interrupt(): void;
  /** Resolves once the run stopped here and its lease is released. */
  ended: Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
