import { randomBytes, randomUUID } from 'node:crypto';
import type { Principal, RouteMeta } from '../../gateway/types.js';
import { type AgentRunStore, createAgentRunStore } from '../../store/runtime/agent-runs.js';
import type { Database } from '../../store/index.js';
import { loadContext } from '../context.js';
import { retentionCutoff, type RuntimeDeps, seconds } from '../deps.js';
import { invalidParam } from '../errors.js';
import { frame } from '../event-log.js';
import type { ResponsesService } from '../responses-service.js';
import { responseShell } from '../response-object.js';
import type { CallContext, CreateResponseParams, Item, ResponseObject } from '../types.js';
import type { CreateOutcome } from '../responses-create.js';
import { DEFAULT_POLICY, type OutboundPolicy } from '../tools/ssrf.js';
import { createHttpToolRegistry, type HttpToolRegistry } from '../tools/http-tools.js';
import {
  createMemoryStore,
  DEFAULT_MEMORY_LIMITS,
  type MemoryStore,
} from '../tools/memory-store.js';
import { attachBuiltins, type MemoryOptions, withBuiltinTools } from '../tools/memory-tool.js';
import { createSecretBox, type SecretBox } from '../secrets.js';
import { mcpListError, RunStopped } from './loop/errors.js';
import { runAgent } from './loop/run-agent.js';
import type { AgentLimits, AgentRequest, AgentState, Checkpointer } from './loop/types.js';
import type { AlertEvent } from './alert-body.js';
import { localBus, type RunBus, type RunMessage } from './run-bus.js';
import { checkApprovals } from './mcp-input.js';
import { echoMcpTool, type McpToolParam } from './mcp-items.js';
import {
  createWebhookDispatcher,
  type WebhookAttemptOutcome,
  type WebhookEndpoint,
  type WebhookLogger,
} from './webhooks.js';
import { merged } from '../../core/objects.js';

/**
 * Responses with server-run tools and background mode, layered over the plain Responses
 * service: a request with `mcp` tools, an `mcp_approval_response` input or `background: true`
 * runs through the agent loop (loop/run-agent.ts); anything else goes to the plain service unchanged.
 *
 * Background runs live in `agent_runs` (store/runtime/agent-runs.ts) under a lease: the process that
 * creates one runs it at once; a worker in every process takes over runs whose lease expired
 * (their owner died) and resumes them from the last checkpoint.
 */

/** Config `runtime.tools` (all optional). */
export interface AgentOptions {
  allowPrivateNetworks?: boolean;
  allowHosts?: string[];
  toolTimeoutMs?: number;
  maxSteps?: number;
  maxToolOutputChars?: number;
  /** Lease of a running background run, ms. Default 30 000 (renewed every third). */
  leaseMs?: number;
  /** How often the worker looks for expired leases, ms (0 = only at start). Default 5 000. */
  workerIntervalMs?: number;
  /** What an interrupted non-idempotent tool call does to its run. Default `continue`. */
  interruptedCalls?: 'continue' | 'fail';
  /** Seals tool secrets at rest (runtime/secrets.ts). Default: a random key of this process. */
  secrets?: SecretBox;
  /** The memory tool and its limits (config `runtime.memory`; tools/memory-tool.ts). */
  memory?: MemoryOptions;
  /** Webhooks for background runs (config `runtime.webhooks`; agent/webhooks.ts). */
  webhooks?: WebhookEndpoint[];
  /** Alert endpoints (config `alerts.webhooks`), served by the same outbox and dispatcher. */
  alertWebhooks?: WebhookEndpoint[];
  /** Where webhook delivery problems are logged (never with secrets). */
  logger?: WebhookLogger;
  /** Told how each webhook delivery attempt ended (metrics). */
  onWebhookAttempt?: (outcome: WebhookAttemptOutcome) => void;
  /**
   * A stable name of this replica (config `server.replicaId`): lease owners start with it, and
   * a replica restarting under the same name takes back the runs its earlier life held at once
   * rather than when their leases expire (after kill -9). Default: none (owners are per process).
   */
  replicaId?: string;
  /** Carries cancels and handovers between replicas (run-bus.ts). Default: this process only. */
  bus?: RunBus;
  /** How long a cancel waits for the run's owner to end the run before taking it over, ms. Default 1 000. */
  cancelTakeoverMs?: number;
}

/** The agent layer: a Responses service plus the background worker. */
export interface AgentRuntime {
  responses: ResponsesService & {
    cancel(principal: Principal, id: string): Promise<ResponseObject>;
    /** SSE frames of a background run after `startingAfter`, following it live until it ends; undefined when `id` is not a background run. */
    follow(
      principal: Principal,
      id: string,
      startingAfter: number | undefined,
      signal?: AbortSignal,
    ): Promise<AsyncIterable<string> | undefined>;
  };
  /** Starts the takeover worker and the run bus (call once the app listens). */
  start(): void;
  /**
   * Hands this process's runs over (the shutdown): no new run starts here; each running run
   * stops at its next checkpoint (a model call in flight is abandoned, to be repeated by the
   * next owner; a tool call in flight may finish within `graceMs`, and its result is recorded),
   * then its lease is released and the other replicas are told. Calling it again returns the
   * same promise. Default grace 0: tool calls in flight are interrupted.
   */
  stop(graceMs?: number): Promise<void>;
  /** {@link AgentRuntime.stop} (if not yet called), then closes the run bus. */
  close(): Promise<void>;
  /** This process's lease owner id. */
  owner: string;
  /** Server-registered HTTP tools (admin API). */
  httpTools: HttpToolRegistry;
  /** The memory tool's store (admin API). */
  memory: MemoryStore;
  /** What seals tool secrets at rest. */
  secrets: SecretBox;
  /** Looks for due webhook deliveries now (after an admin retry), instead of at the next poll. */
  kickWebhooks(): void;
  /** Queues an alert for the alert endpoints (alerts/index.ts). */
  sendAlert(alert: AlertEvent): Promise<void>;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'incomplete']);

export function createAgentRuntime(
  deps: RuntimeDeps,
  database: Database,
  base: ResponsesService,
  options: AgentOptions = {},
): AgentRuntime {
  const secrets = options.secrets ?? createSecretBox(randomBytes(32), 'ephemeral');
  const registry = createHttpToolRegistry(database, secrets);
  const { enabled: memoryEnabled = true, ...memoryLimits } = options.memory ?? {};
  const memory = createMemoryStore(database, merged(DEFAULT_MEMORY_LIMITS, memoryLimits));
  const policy: OutboundPolicy = merged(DEFAULT_POLICY, {
    allowPrivateNetworks: options.allowPrivateNetworks ?? false,
    allowHosts: (options.allowHosts ?? []).map((host) => host.toLowerCase()),
  });
  const limits: AgentLimits = {
    policy,
    toolTimeoutMs: options.toolTimeoutMs ?? 60_000,
    maxSteps: options.maxSteps ?? 16,
    maxToolOutputChars: options.maxToolOutputChars ?? 100_000,
    interruptedCalls: options.interruptedCalls ?? 'continue',
  };
  const leaseMs = options.leaseMs ?? 30_000;
  const cancelTakeoverMs = options.cancelTakeoverMs ?? 1_000;
  // With a replica id the owner says which replica (and which life of it) holds a lease.
  const replicaPrefix = options.replicaId === undefined ? undefined : `${options.replicaId}/`;
  const owner = `${replicaPrefix ?? `${process.pid}-`}${randomUUID()}`;
  const bus = options.bus ?? localBus();
  const log = options.logger;
  let store: AgentRunStore | undefined;
  const runs = async (): Promise<AgentRunStore> => {
    store ??= createAgentRunStore(database, secrets);
    return store;
  };
  /** Runs created at or before this are past retention: read as gone (the sweep deletes them). */
  const liveAfter = () => retentionCutoff(deps.clock(), deps.retention.retentionDays);
  /** Local runs, by response id: what stops the run, what stops its tool calls, and its end. */
  const active = new Map<string, LocalRun>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Set while handing over (shutdown): checkpoints stop their runs, new runs are not started here. */
  let stopping: Promise<void> | undefined;
  let handingOver = false;
  let busStarted = false;
  const webhooks = createWebhookDispatcher(database, {
    endpoints: [
      ...(options.webhooks ?? []),
      ...(options.alertWebhooks ?? []).map((endpoint) => merged(endpoint, { alerts: true })),
    ],
    policy,
    clock: deps.clock,
    ids: deps.ids,
    owner,
    runStatus: async (id) => (await runs()).status(id),
    pollMs: options.workerIntervalMs || 5_000,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.onWebhookAttempt ? { onAttempt: options.onWebhookAttempt } : {}),
  });

  const isAgentRequest = (params: CreateResponseParams, httpTools: unknown[]) =>
    httpTools.length > 0 ||
    (params.mcpTools?.length ?? 0) > 0 ||
    params.background === true ||
    params.input.some(
      (item) =>
        isRecord(item) && typeof item['type'] === 'string' && item['type'].startsWith('mcp_'),
    );

  /** Normalizes the request's context once (approval responses are kept as input items). */
  async function initialState(
    params: CreateResponseParams,
    principal: Principal,
  ): Promise<AgentState> {
    const approvals: Item[] = [];
    const rest: unknown[] = [];
    for (const item of params.input) {
      if (isRecord(item) && item['type'] === 'mcp_approval_response') {
        if (
          typeof item['approval_request_id'] !== 'string' ||
          typeof item['approve'] !== 'boolean'
        ) {
          throw invalidParam(
            "An mcp_approval_response needs 'approval_request_id' (string) and 'approve' (boolean).",
            'input',
          );
        }
        approvals.push(
          merged(item, {
            type: 'mcp_approval_response',
            id: typeof item['id'] === 'string' ? item['id'] : deps.ids('mcpa_'),
          }) as Item,
        );
      } else rest.push(item);
    }
    const loaded = await loadContext(
      deps.repository,
      {
        tenantId: principal.tenantId,
        previousResponseId: params.previousResponseId,
        conversationId: params.conversationId,
        input: rest,
      },
      deps.clock(),
      deps.ids,
    );
    checkApprovals(loaded.history, [...loaded.input, ...approvals], params.mcpTools ?? []);
    return {
      history: loaded.history,
      input: [...loaded.input, ...approvals],
      output: [],
      usage: null,
      steps: 0,
      started: [],
      events: [],
      done: false,
    };
  }

  function shellFor(
    params: CreateResponseParams,
    mcpTools: McpToolParam[],
    id: string,
    createdAt: number,
  ): ResponseObject {
    const shell = responseShell(params, id, createdAt);
    return merged(shell, {
      background: params.background === true,
      tools: [...(shell['tools'] as unknown[]), ...mcpTools.map(echoMcpTool)],
    });
  }

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
        deps,
        limits,
        request,
        shell,
        state,
        checkpoints,
        controller.signal,
        () => undefined,
        tools.signal,
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

  async function* followRun(
    principal: Principal,
    id: string,
    startingAfter: number | undefined,
    signal?: AbortSignal,
  ): AsyncGenerator<string> {
    const store = await runs();
    let next = startingAfter === undefined ? 0 : startingAfter + 1;
    for (;;) {
      const row = await store.get(principal.tenantId, id, liveAfter());
      if (!row) return;
      const fresh = row.events.filter((event) => Number(event['sequence_number']) >= next);
      for (const event of fresh) {
        yield frame(event);
        next = Number(event['sequence_number']) + 1;
      }
      if (TERMINAL.has(row.status)) return;
      if (signal?.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  // The base service's methods, with these in place of (or beside) its own.
  const extensions = {
    async create(params: CreateResponseParams, call: CallContext): Promise<CreateOutcome> {
      const httpTools = withBuiltinTools(
        [...(await registry.find(params.tools.map((tool) => tool.name))).values()],
        params,
        call.principal.tenantId,
        { store: memory, enabled: memoryEnabled, clock: deps.clock },
      );
      if (!isAgentRequest(params, httpTools)) return base.create(params, call);
      const mcpTools = params.mcpTools ?? [];
      const started = deps.clock();
      const id = deps.ids('resp_');
      const shell = shellFor(params, mcpTools, id, seconds(started));
      const state = await initialState(params, call.principal);
      const request: AgentRequest = {
        params,
        mcpTools,
        httpTools,
        principal: call.principal,
        requestId: call.requestId,
        tags: call.tags,
      };
      const meta: RouteMeta = {
        model: params.model,
        deployment: null,
        upstreamModel: null,
        partner: null,
        attempts: 1,
        sandbox: false,
        openAIFamily: false,
      };

      if (params.background === true) {
        if (!params.store)
          throw invalidParam('Background responses need store=true.', 'background');
        const queued: ResponseObject = merged(shell, { status: 'queued' });
        state.events.push(
          { type: 'response.created', response: queued, sequence_number: 0 },
          { type: 'response.queued', response: queued, sequence_number: 1 },
        );
        const store = await runs();
        // While this process hands over, a new run is left for another replica (no lease).
        const handing = handingOver;
        await store.insert({
          id,
          tenantId: call.principal.tenantId,
          status: 'queued',
          background: true,
          request,
          state,
          response: queued,
          events: state.events,
          owner,
          leaseExpiresAt: started + leaseMs,
          now: started,
        });
        if (handing) {
          await store.release(id, owner);
          await bus.publish({ kind: 'released' });
        } else launch(id);
        if (!params.stream) return { kind: 'json', response: queued, meta };
        return {
          kind: 'stream',
          meta,
          frames: followRun(call.principal, id, undefined, call.signal),
        };
      }

      const checkpoints: Checkpointer = { save: async () => ({ stop: null }) };
      if (!params.stream) {
        const response = await runAgent(
          deps,
          limits,
          request,
          shell,
          state,
          checkpoints,
          call.signal,
          () => undefined,
        );
        // An unreadable MCP tool list fails the request itself with OpenAI's 424 (the output
        // holds nothing but listings, the last one failed), so SDK users' error handling sees it.
        const listing = response.output.at(-1);
        if (
          response.status === 'failed' &&
          response.output.every((item) => item.type === 'mcp_list_tools') &&
          typeof listing?.['error'] === 'string'
        )
          throw mcpListError(listing['error']);
        return { kind: 'json', response, meta };
      }
      return {
        kind: 'stream',
        meta,
        frames: await streamRun(request, shell, state, checkpoints, call.signal),
      };
    },
    async retrieve(principal, id) {
      try {
        return await base.retrieve(principal, id);
      } catch (error) {
        const row = await (await runs()).get(principal.tenantId, id, liveAfter());
        if (!row) throw error;
        return row.response as ResponseObject;
      }
    },
    async delete(principal, id) {
      // The run row first: a run ending meanwhile sees it gone and removes what it stores (persisted()).
      const store = await runs();
      const run = await store.get(principal.tenantId, id, liveAfter());
      if (run && !TERMINAL.has(run.status)) {
        await store.requestCancel(principal.tenantId, id, deps.clock());
        const local = active.get(id);
        if (local) local.stop('cancel');
        else await bus.publish({ kind: 'cancel', id });
      }
      const removedRun = await store.delete(principal.tenantId, id);
      try {
        return await base.delete(principal, id);
      } catch (error) {
        // A run that had not stored its response yet: deleting the run row deleted it.
        if (run && removedRun) return { id, object: 'response' as const, deleted: true as const };
        throw error;
      }
    },
    async cancel(principal, id) {
      const store = await runs();
      const row = await store.get(principal.tenantId, id, liveAfter());
      if (!row) {
        await base.retrieve(principal, id);
        throw invalidParam('Only responses created with background=true can be cancelled.', null);
      }
      if (TERMINAL.has(row.status)) return row.response as ResponseObject;
      await store.requestCancel(principal.tenantId, id, deps.clock());
      const local = active.get(id);
      if (local) local.stop('cancel');
      else await bus.publish({ kind: 'cancel', id });
      // The answer is what the store says, so GET, the stream replay and lists agree with it.
      return (await awaitCancel(principal.tenantId, id)) ?? (row.response as ResponseObject);
    },
    async follow(principal, id, startingAfter, signal) {
      const row = await (await runs()).get(principal.tenantId, id, liveAfter());
      if (!row) return undefined;
      return followRun(principal, id, startingAfter, signal);
    },
  } satisfies Partial<AgentRuntime['responses']>;
  const responses: AgentRuntime['responses'] = merged(base, extensions);

  /**
   * Starts a streamed (foreground) run and resolves with its frames once every MCP server was
   * listed, before the SSE headers are sent: an unreadable tool list throws OpenAI's 424 instead
   * of a 200 stream ending in an error event (the events so far are then not sent).
   */
  async function streamRun(
    request: AgentRequest,
    shell: ResponseObject,
    state: AgentState,
    checkpoints: Checkpointer,
    signal: AbortSignal,
  ): Promise<AsyncGenerator<string>> {
    const feed: FrameFeed = { pending: [], wake: undefined, finished: false, failure: undefined };
    let result: ResponseObject | undefined;
    let listed: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      listed = resolve;
    });
    runAgent(
      deps,
      limits,
      request,
      shell,
      state,
      checkpoints,
      signal,
      (event) => {
        feed.pending.push(frame(event));
        feed.wake?.();
      },
      signal,
      listed,
    )
      .then((response) => {
        result = response;
      })
      .catch((error: unknown) => {
        feed.failure = error;
      })
      .finally(() => {
        feed.finished = true;
        listed();
        feed.wake?.();
      });
    await gate;
    const listing = result?.output.at(-1);
    if (
      result?.status === 'failed' &&
      result.output.every((item) => item.type === 'mcp_list_tools') &&
      typeof listing?.['error'] === 'string'
    )
      throw mcpListError(listing['error']);
    return drainFrames(feed);
  }

  return {
    responses,
    owner,
    kickWebhooks: () => webhooks.kick(),
    sendAlert: (alert) => webhooks.enqueueAlert(alert),
    httpTools: registry,
    memory,
    secrets,
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
interface LocalRun {
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The frames of an agent run streamed to its client, as the run produces them. */
interface FrameFeed {
  pending: string[];
  /** Wakes the reader waiting for frames. */
  wake: (() => void) | undefined;
  finished: boolean;
  failure: unknown;
}

/**
 * Yields a run's frames as they come, then its failure if it failed. At module level: a generator
 * function made per call would give each run's generator a hidden class of its own
 * (server/context.ts).
 */
async function* drainFrames(feed: FrameFeed): AsyncGenerator<string> {
  for (;;) {
    if (feed.pending.length > 0) {
      yield feed.pending.splice(0).join('');
      continue;
    }
    if (feed.finished) break;
    await new Promise<void>((resolve) => {
      feed.wake = resolve;
    });
    feed.wake = undefined;
  }
  if (feed.failure) throw feed.failure;
}
