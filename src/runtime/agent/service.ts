import { randomBytes, randomUUID } from 'node:crypto';
import type { Principal, RouteMeta } from '../../gateway/types.js';
import { type AgentRunStore, createAgentRunStore } from '../../store/runtime/agent-runs.js';
import type { Database } from '../../store/index.js';
import { retentionCutoff, type RuntimeDeps, seconds } from '../deps.js';
import { invalidParam } from '../errors.js';
import { frame } from '../event-log.js';
import type { ResponsesService } from '../responses-service.js';
import type { CallContext, CreateResponseParams, ResponseObject } from '../types.js';
import type { CreateOutcome } from '../responses-create.js';
import { DEFAULT_POLICY, type OutboundPolicy } from '../tools/ssrf.js';
import { createHttpToolRegistry } from '../tools/http-tools.js';
import { createMemoryStore, DEFAULT_MEMORY_LIMITS } from '../tools/memory-store.js';
import { withBuiltinTools } from '../tools/memory-tool.js';
import { createSecretBox } from '../secrets.js';
import { listingFailure } from './loop/errors.js';
import { runAgent } from './loop/run-agent.js';
import type { AgentLimits, AgentRequest, Checkpointer, RunInputs } from './loop/types.js';
import { initialState, isAgentRequest, shellFor } from './agent-request.js';
import type { AgentOptions, AgentRuntime } from './agent-types.js';
import { createBackgroundRuns, TERMINAL } from './background-runs.js';
import { localBus } from './run-bus.js';
import { streamRun } from './stream-run.js';
import { createWebhookDispatcher } from './webhooks.js';
import { merged } from '../../core/objects.js';

/**
 * Responses with server-run tools and background mode, layered over the plain Responses
 * service: a request with `mcp` tools, an `mcp_approval_response` input or `background: true`
 * runs through the agent loop (loop/run-agent.ts); anything else goes to the plain service unchanged.
 *
 * Background runs live in `agent_runs` (store/runtime/agent-runs.ts) under a lease: the process that
 * creates one runs it at once; a worker in every process takes over runs whose lease expired
 * (their owner died) and resumes them from the last checkpoint.
 *
 * Here: the factory and the Responses methods it puts over the base service's. Beside it:
 * agent-types.ts (options and interface), agent-request.ts (what a new run starts from),
 * stream-run.ts (a streamed foreground run) and background-runs.ts (the leases, the takeover
 * worker, cancels and the handover at shutdown).
 */

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
  // With a replica id the owner says which replica (and which life of it) holds a lease.
  const replicaPrefix = options.replicaId === undefined ? undefined : `${options.replicaId}/`;
  const owner = `${replicaPrefix ?? `${process.pid}-`}${randomUUID()}`;
  const bus = options.bus ?? localBus();
  let store: AgentRunStore | undefined;
  const runs = async (): Promise<AgentRunStore> => {
    store ??= createAgentRunStore(database, secrets);
    return store;
  };
  /** Runs created at or before this are past retention: read as gone (the sweep deletes them). */
  const liveAfter = () => retentionCutoff(deps.clock(), deps.retention.retentionDays);
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
  const background = createBackgroundRuns({
    deps,
    options,
    limits,
    memory,
    webhooks,
    runs,
    owner,
    leaseMs,
    replicaPrefix,
    bus,
  });
  const { active, launch, awaitCancel, isHandingOver } = background;

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
      const state = await initialState(deps, params, call.principal);
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
        const handing = isHandingOver();
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
      const inputs: RunInputs = { deps, limits, request, shell, state, checkpoints };
      if (!params.stream) {
        const response = await runAgent(inputs, { signal: call.signal });
        // An unreadable MCP tool list fails the request itself with OpenAI's 424, so SDK users'
        // error handling sees it.
        const failure = listingFailure(response);
        if (failure) throw failure;
        return { kind: 'json', response, meta };
      }
      return {
        kind: 'stream',
        meta,
        frames: await streamRun(inputs, call.signal),
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

  return {
    responses,
    owner,
    kickWebhooks: () => webhooks.kick(),
    sendAlert: (alert) => webhooks.enqueueAlert(alert),
    httpTools: registry,
    memory,
    secrets,
    start: background.start,
    stop: background.stop,
    close: background.close,
  };
}
