import type { WebhookDeliveryStore } from '../../store/webhooks/deliveries.js';
import type { OutboundPolicy } from '../tools/ssrf.js';
import type { AlertEvent } from './alert-body.js';
import type { WebhookEndpoint } from './webhook-endpoints.js';

/** What the webhook dispatcher (webhooks.ts) takes, and its interface. */

/** Where the dispatcher reports (pino-compatible). */
export interface WebhookLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

/** What `createWebhookDispatcher` needs: the endpoints, the outbound policy, the clock, ids and the lease owner. */
export interface WebhookDispatcherOptions {
  endpoints: WebhookEndpoint[];
  policy: OutboundPolicy;
  clock: () => number;
  ids: (prefix: string) => string;
  /** Lease owner id of this process. */
  owner: string;
  /** The run's current status (`agent_runs`), or null when it no longer exists. */
  runStatus(responseId: string): Promise<string | null>;
  /** How often the store is polled for deliveries due (other processes' rows, retries), ms. */
  pollMs: number;
  logger?: WebhookLogger;
  /** Told how each delivery attempt ended (metrics): delivered, retry (will try again), failed (gave up) or interrupted (shutdown). */
  onAttempt?: (outcome: WebhookAttemptOutcome) => void;
}

/** How one delivery attempt ended. */
export type WebhookAttemptOutcome = 'delivered' | 'retry' | 'failed' | 'interrupted';

/** A run that reached (or is about to write) its terminal status. */
export interface TerminalRun {
  responseId: string;
  tenantId: string;
  status: string;
  /** Epoch ms it ended. */
  at: number;
}

/** The outbox of run and alert webhooks: queued in the store, delivered and retried by a poller. */
export interface WebhookDispatcher {
  readonly enabled: boolean;
  /** Queues the run's webhooks (idempotent per response and endpoint). */
  enqueue(run: TerminalRun): Promise<void>;
  /** Queues an alert for the alert endpoints that take it (idempotent per alert key and endpoint). */
  enqueueAlert(alert: AlertEvent): Promise<void>;
  /** Looks for due deliveries now (after a terminal checkpoint). */
  kick(): void;
  start(): void;
  /** Stops polling and aborts attempts in flight (they are retried by the next dispatcher). */
  stop(): Promise<void>;
  /** The store (inspection, tests). */
  store(): WebhookDeliveryStore;
}
