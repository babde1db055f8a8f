import { createHash, createHmac } from 'node:crypto';
import { type Agent, fetch as undiciFetch } from 'undici';
import type { Database } from '../../store/database.js';
import {
  createWebhookDeliveryStore,
  type WebhookDelivery,
  type WebhookDeliveryStore,
} from '../../store/webhooks/deliveries.js';
import {
  checkUrl,
  guardedAgent,
  OutboundBlockedError,
  type OutboundPolicy,
} from '../tools/ssrf.js';
import { type AlertEvent, alertBody, alertPayload } from './alert-body.js';
import { merged } from '../../core/objects.js';

/**
 * Webhooks for background responses (config `runtime.webhooks`), sent the way OpenAI sends
 * its own (Standard Webhooks): a POST of `{id, object: "event", created_at, type, data: {id}}`
 * with `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">`, so `client.webhooks.unwrap()` of the `openai` SDKs verifies it.
 *
 * Delivery is an outbox (`webhook_deliveries`, store/webhooks/deliveries.ts):
 * - {@link WebhookDispatcher.enqueue} writes one row per subscribed endpoint *before* the run's
 *   terminal checkpoint, so a crash between the two delays the webhook but cannot lose it. A
 *   row whose run has not ended yet (the terminal write did not happen, or the run was taken
 *   over) waits; the event type is the run's status when it is sent.
 * - a dispatcher in every process takes due rows under a lease (one sender at a time), POSTs,
 *   and records the result; non-2xx answers, timeouts and connection errors are retried with
 *   exponential backoff (with jitter) up to `maxAttempts`; a URL refused by the SSRF policy is
 *   not retried. Every retry carries the same `webhook-id`: delivery is at least once, and a
 *   receiver that drops repeated ids sees each event once.
 * - the secret is used to sign only: it is never stored, logged or sent; logs name the endpoint
 *   by host.
 */

export const WEBHOOK_EVENT_TYPES = [
  'response.completed',
  'response.failed',
  'response.cancelled',
  'response.incomplete',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** One configured endpoint (config `runtime.webhooks[]`). */
export interface WebhookEndpoint {
  url: string;
  /** Signing secret: `whsec_<base64>` (the bytes after the prefix, base64-decoded) or any other string (its UTF-8 bytes), as the openai SDKs read it. */
  secret: string;
  /** Event types sent to this endpoint. Default: all four. */
  events?: WebhookEventType[];
  /** Only runs of these tenants. Default: every tenant. */
  tenants?: string[];
  /** Per attempt, ms. Default 10 000. */
  timeoutMs?: number;
  /** Attempts before giving up. Default 12. */
  maxAttempts?: number;
  /** Wait before the first retry, ms (doubled each time). Default 5 000. */
  backoffMs?: number;
  /** Longest wait between attempts, ms. Default 3 600 000. */
  maxBackoffMs?: number;
  /** An endpoint of config `alerts.webhooks`: it takes alert events (all three by default), never response events. */
  alerts?: boolean;
  /** Body of alert events: `standard` (signed event) or `slack` (`{text}`). Default standard. */
  format?: 'standard' | 'slack';
  /** Alert event types sent (alert endpoints). Default: all. */
  alertEvents?: AlertEvent['type'][];
}

/** Where the dispatcher reports (pino-compatible). */
export interface WebhookLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

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

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'incomplete']);
const ALERT_TYPES: AlertEvent['type'][] = [
  'budget.threshold',
  'partner.share_cap',
  'licence.ending',
  'commitment.under_use',
  'agreement.gap',
];
/** A delivery whose run has not ended this long after it was queued is given up. */
const MAX_WAIT_FOR_RUN_MS = 86_400_000;
const MAX_IN_FLIGHT = 16;
/** Finished deliveries are kept this long (inspection), then deleted. */
const KEEP_FINISHED_MS = 7 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

/** The webhook type of a terminal status (null for a status that is not terminal). */
export function webhookTypeOf(status: string): WebhookEventType | null {
  return TERMINAL.has(status) ? (`response.${status}` as WebhookEventType) : null;
}

/** The HMAC key of a secret, as the openai SDKs derive it. */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', webhookKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The stored key of an endpoint: a hash of its URL (the URL itself may carry a token). */
export function endpointKey(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 24);
}

/** The body of an event. */
export function webhookBody(
  delivery: Pick<WebhookDelivery, 'id' | 'type' | 'responseId' | 'eventCreatedAt'>,
): string {
  return JSON.stringify({
    id: delivery.id,
    object: 'event',
    created_at: Math.floor(delivery.eventCreatedAt / 1000),
    type: delivery.type,
    data: { id: delivery.responseId },
  });
}

interface Endpoint {
  key: string;
  url: string;
  host: string;
  secret: string;
  events: Set<string>;
  tenants: Set<string> | null;
  timeoutMs: number;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  format: 'standard' | 'slack';
}

export function createWebhookDispatcher(
  database: Database,
  options: WebhookDispatcherOptions,
): WebhookDispatcher {
  const endpoints = new Map<string, Endpoint>();
  for (const endpoint of options.endpoints) {
    // An alert endpoint gets a key of its own, so a URL may take both kinds of events.
    const key = endpointKey(endpoint.alerts ? `alerts ${endpoint.url}` : endpoint.url);
    let host = '(invalid URL)';
    try {
      host = new URL(endpoint.url).host;
    } catch {
      // Reported at the first attempt.
    }
    endpoints.set(key, {
      key,
      url: endpoint.url,
      host,
      secret: endpoint.secret,
      events: new Set<string>(
        endpoint.alerts
          ? (endpoint.alertEvents ?? ALERT_TYPES)
          : (endpoint.events ?? WEBHOOK_EVENT_TYPES),
      ),
      format: endpoint.format ?? 'standard',
      tenants: endpoint.tenants ? new Set(endpoint.tenants) : null,
      timeoutMs: endpoint.timeoutMs ?? 10_000,
      maxAttempts: endpoint.maxAttempts ?? 12,
      backoffMs: endpoint.backoffMs ?? 5_000,
      maxBackoffMs: endpoint.maxBackoffMs ?? 3_600_000,
    });
  }
  const enabled = endpoints.size > 0;
  const deliveries = createWebhookDeliveryStore(database);
  const { clock, owner, logger } = options;
  let dispatcher: Agent | undefined;
  let abort = new AbortController();
  /** Attempts running in this process, by delivery id. */
  const inFlight = new Map<string, Promise<unknown>>();
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let stopped = false;
  let pumping = false;
  let again = false;
  let prunedAt = 0;

  const backoff = (endpoint: Endpoint, attempts: number) => {
    const base = Math.min(
      endpoint.maxBackoffMs,
      endpoint.backoffMs * 2 ** Math.max(0, attempts - 1),
    );
    return Math.round(base * (0.8 + Math.random() * 0.4));
  };

  /** One attempt at one delivery this process has claimed. */
  async function attempt(row: WebhookDelivery): Promise<void> {
    const endpoint = endpoints.get(row.endpoint);
    const now = clock();
    if (!endpoint) {
      await deliveries.finish(row.id, owner, 'skipped', {
        now,
        lastStatus: null,
        lastError: 'The endpoint is no longer configured.',
      });
      return;
    }
    if (row.payload === null && !(await responseReady(row, endpoint, now))) return;
    await send(row, endpoint);
  }

  /** Whether a response webhook can go now (its run ended as queued); settles the row when not. */
  async function responseReady(row: WebhookDelivery, endpoint: Endpoint, now: number) {
    const status = await options.runStatus(row.responseId);
    const type = status === null ? null : webhookTypeOf(status);
    if (status === null) {
      await deliveries.finish(row.id, owner, 'skipped', {
        now,
        lastStatus: null,
        lastError: 'The response no longer exists.',
      });
      return false;
    }
    if (type === null) {
      // Queued ahead of a terminal checkpoint that has not landed (yet): wait for it.
      if (now - row.eventCreatedAt > MAX_WAIT_FOR_RUN_MS) {
        await deliveries.finish(row.id, owner, 'failed', {
          now,
          lastStatus: null,
          lastError: `The response is still ${status}.`,
        });
        return false;
      }
      await deliveries.postpone(row.id, owner, now + Math.min(options.pollMs, 250), now);
      return false;
    }
    if (type !== row.type) {
      // The run ended differently than the process that queued the webhook expected (it lost its lease).
      if (!endpoint.events.has(type))
        await deliveries.finish(row.id, owner, 'skipped', {
          now,
          lastStatus: null,
          lastError: `The response ended ${status}; the endpoint does not take ${type}.`,
        });
      else await deliveries.postpone(row.id, owner, now, now, type);
      return false;
    }
    return true;
  }

  /** One attempt at sending a claimed delivery, and its outcome recorded. */
  async function send(row: WebhookDelivery, endpoint: Endpoint): Promise<void> {
    const body = row.payload === null ? webhookBody(row) : alertBody(row, endpoint.format);
    const timestamp = Math.floor(clock() / 1000);
    const timeout = AbortSignal.timeout(endpoint.timeoutMs);
    let lastStatus: number | null = null;
    let lastError: string | null = null;
    let permanent = false;
    try {
      const url = checkUrl(options.policy, endpoint.url);
      dispatcher ??= guardedAgent(options.policy);
      const answer = await undiciFetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Switchyard-Webhooks/1.0',
          'webhook-id': row.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(endpoint.secret, row.id, timestamp, body),
        },
        body,
        redirect: 'manual',
        dispatcher,
        signal: AbortSignal.any([timeout, abort.signal]),
      });
      lastStatus = answer.status;
      await answer.body?.cancel().catch(() => undefined);
      if (answer.status < 200 || answer.status >= 300) lastError = `HTTP ${answer.status}`;
    } catch (thrown) {
      const blocked = refusal(thrown);
      if (blocked) {
        permanent = true;
        lastError = blocked.message;
      } else if (timeout.aborted) lastError = `Timed out after ${endpoint.timeoutMs} ms`;
      else if (abort.signal.aborted) lastError = 'Interrupted (the gateway was shutting down)';
      else lastError = describe(thrown);
    }
    const done = clock();
    if (lastError === null) {
      options.onAttempt?.('delivered');
      await deliveries.delivered(row.id, owner, { now: done, lastStatus, lastError: null });
      return;
    }
    const fields = {
      webhook: endpoint.host,
      event: row.id,
      type: row.type,
      responseId: row.responseId,
      attempt: row.attempts,
      status: lastStatus ?? undefined,
      error: lastError,
    };
    if (abort.signal.aborted && !permanent) {
      options.onAttempt?.('interrupted');
      await deliveries.retry(row.id, owner, done, { now: done, lastStatus, lastError });
    } else if (permanent || row.attempts >= endpoint.maxAttempts) {
      options.onAttempt?.('failed');
      await deliveries.finish(row.id, owner, 'failed', { now: done, lastStatus, lastError });
      logger?.warn(fields, 'webhook delivery failed; giving up');
    } else {
      const next = done + backoff(endpoint, row.attempts);
      options.onAttempt?.('retry');
      await deliveries.retry(row.id, owner, next, { now: done, lastStatus, lastError });
      logger?.info(
        merged(fields, { retryInMs: next - done }),
        'webhook delivery failed; will retry',
      );
    }
  }

  async function claimAndSend(row: WebhookDelivery): Promise<void> {
    const endpoint = endpoints.get(row.endpoint);
    const now = clock();
    // Longer than one attempt (its timeout) plus the writes around it; a dead sender's lease runs out soon after.
    const lease = now + (endpoint?.timeoutMs ?? 10_000) * 2 + 1_000;
    if (!(await deliveries.claim(row.id, owner, lease, now))) return;
    await attempt(merged(row, { attempts: row.attempts + 1 }));
  }

  /**
   * Starts attempts for due deliveries, up to {@link MAX_IN_FLIGHT} at once, without waiting for
   * them (a slow endpoint does not hold the others up); each finished attempt looks again.
   */
  async function pump(): Promise<void> {
    if (!enabled || stopped) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        const room = MAX_IN_FLIGHT - inFlight.size;
        if (room <= 0) break;
        for (const row of await deliveries.due(clock(), room + inFlight.size)) {
          if (inFlight.has(row.id) || inFlight.size >= MAX_IN_FLIGHT || stopped) continue;
          const task = claimAndSend(row)
            .catch((error: unknown) =>
              logger?.warn({ err: error, event: row.id }, 'webhook dispatcher error'),
            )
            .finally(() => {
              inFlight.delete(row.id);
              if (!stopped) void tick();
            });
          inFlight.set(row.id, task);
        }
      } while (again && !stopped);
    } finally {
      pumping = false;
    }
  }

  async function tick(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    try {
      await pump();
    } catch (error) {
      logger?.warn({ err: error }, 'webhook dispatcher error');
    }
    if (stopped || !started) return;
    if (clock() - prunedAt > PRUNE_EVERY_MS) {
      prunedAt = clock();
      await deliveries
        .prune(prunedAt - KEEP_FINISHED_MS)
        .catch((error: unknown) => logger?.warn({ err: error }, 'webhook deliveries prune failed'));
    }
    let wait = options.pollMs;
    try {
      const next = await deliveries.nextDue();
      if (next !== null) wait = Math.min(wait, Math.max(10, next - clock()));
    } catch {
      // Polled again after pollMs.
    }
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void tick(), wait);
    timer.unref?.();
  }

  return {
    enabled,
    async enqueue(run) {
      const type = webhookTypeOf(run.status);
      if (!enabled || type === null) return;
      const now = clock();
      const rows = [...endpoints.values()]
        .filter(
          (endpoint) =>
            endpoint.events.has(type) &&
            (endpoint.tenants === null || endpoint.tenants.has(run.tenantId)),
        )
        .map((endpoint) => ({
          id: options.ids('evt_'),
          responseId: run.responseId,
          tenantId: run.tenantId,
          endpoint: endpoint.key,
          type,
          eventCreatedAt: run.at,
          now,
        }));
      await deliveries.enqueue(rows);
    },
    async enqueueAlert(alert) {
      if (!enabled) return;
      const now = clock();
      const rows = [...endpoints.values()]
        .filter(
          (endpoint) =>
            endpoint.events.has(alert.type) &&
            (endpoint.tenants === null ||
              (alert.tenantId !== null && endpoint.tenants.has(alert.tenantId))),
        )
        .map((endpoint) => ({
          id: options.ids('evt_'),
          // The alert's key stands in for the response id: unique per endpoint, so it is queued once.
          responseId: alert.key,
          tenantId: alert.tenantId ?? '-',
          endpoint: endpoint.key,
          type: alert.type,
          eventCreatedAt: alert.at,
          now,
          payload: alertPayload(alert),
        }));
      await deliveries.enqueue(rows);
      if (rows.length > 0 && started && !stopped) void tick();
    },
    kick() {
      if (enabled && started && !stopped) void tick();
    },
    start() {
      if (!enabled) return;
      started = true;
      stopped = false;
      if (abort.signal.aborted) abort = new AbortController();
      void tick();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      abort.abort();
      await Promise.allSettled([...inFlight.values()]);
      await dispatcher?.close().catch(() => undefined);
      dispatcher = undefined;
    },
    store: () => deliveries,
  };
}

/** The SSRF refusal behind an error (thrown by checkUrl, or by the guarded DNS lookup inside fetch). */
function refusal(thrown: unknown): Error | undefined {
  for (
    let error = thrown, depth = 0;
    error instanceof Error && depth < 4;
    error = (error as { cause?: unknown }).cause, depth++
  ) {
    if (
      error instanceof OutboundBlockedError ||
      (error as NodeJS.ErrnoException).code === 'ESWITCHYARD_SSRF'
    )
      return error;
  }
  return undefined;
}

function describe(thrown: unknown): string {
  if (!(thrown instanceof Error)) return String(thrown);
  const cause = (thrown as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${cause.message} (${code})` : cause.message;
  }
  return thrown.message;
}
