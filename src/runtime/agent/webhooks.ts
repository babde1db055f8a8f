import type { Database } from '../../store/database.js';
import {
  createWebhookDeliveryStore,
  type WebhookDelivery,
} from '../../store/webhooks/deliveries.js';
import { alertPayload } from './alert-body.js';
import { ALERT_TYPES, type Endpoint, endpointKey } from './webhook-endpoints.js';
import { WEBHOOK_EVENT_TYPES, webhookTypeOf } from './webhook-format.js';
import { createWebhookSender } from './webhook-sender.js';
import type { WebhookDispatcher, WebhookDispatcherOptions } from './webhook-types.js';
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
 *
 * Here: the outbox (queueing, claiming, polling, pruning). Beside it: webhook-format.ts (event
 * types, body, signature), webhook-endpoints.ts (endpoint config and keys), webhook-types.ts
 * (options and interface) and webhook-sender.ts (one POST and its outcome).
 */

/** A delivery whose run has not ended this long after it was queued is given up. */
const MAX_WAIT_FOR_RUN_MS = 86_400_000;
const MAX_IN_FLIGHT = 16;
/** Finished deliveries are kept this long (inspection), then deleted. */
const KEEP_FINISHED_MS = 7 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

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
  /** Attempts running in this process, by delivery id. */
  const inFlight = new Map<string, Promise<unknown>>();
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let stopped = false;
  let pumping = false;
  let again = false;
  let prunedAt = 0;
  const sender = createWebhookSender(deliveries, options);
  const { send } = sender;

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
      sender.resume();
      void tick();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      sender.interrupt();
      await Promise.allSettled([...inFlight.values()]);
      await sender.close();
    },
    store: () => deliveries,
  };
}
