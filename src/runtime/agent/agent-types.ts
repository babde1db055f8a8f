import type { Principal } from '../../gateway/types.js';
import type { ResponsesService } from '../responses-service.js';
import type { SecretBox } from '../secrets.js';
import type { HttpToolRegistry } from '../tools/http-tools.js';
import type { MemoryStore } from '../tools/memory-store.js';
import type { MemoryOptions } from '../tools/memory-tool.js';
import type { ResponseObject } from '../types.js';
import type { AlertEvent } from './alert-body.js';
import type { RunBus } from './run-bus.js';
import type { WebhookEndpoint } from './webhook-endpoints.js';
import type { WebhookAttemptOutcome, WebhookLogger } from './webhook-types.js';

/**
 * What the agent runtime (service.ts) takes and what it gives: its options (config
 * `runtime.tools` and the parts of the app it is handed) and its interface.
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
