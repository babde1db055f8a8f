import { type Agent, fetch as undiciFetch } from 'undici';
import type { WebhookDelivery, WebhookDeliveryStore } from '../../store/webhooks/deliveries.js';
import { checkUrl, guardedAgent, OutboundBlockedError } from '../tools/ssrf.js';
import { alertBody } from './alert-body.js';
import type { Endpoint } from './webhook-endpoints.js';
import { signWebhook, webhookBody } from './webhook-format.js';
import type { WebhookDispatcherOptions } from './webhook-types.js';
import { merged } from '../../core/objects.js';

/**
 * The POST of a webhook delivery the dispatcher (webhooks.ts) claimed, and its outcome recorded:
 * delivered, retried later with exponential backoff (with jitter), or given up.
 */

/** Sends the deliveries of one dispatcher, over one SSRF-guarded connection pool. */
export interface WebhookSender {
  /** One attempt at sending a claimed delivery, and its outcome recorded. */
  send(row: WebhookDelivery, endpoint: Endpoint): Promise<void>;
  /** Attempts from now on may run again (the dispatcher starts after a stop). */
  resume(): void;
  /** Aborts the attempts in flight (the dispatcher stops): they are retried by the next dispatcher. */
  interrupt(): void;
  /** Closes the connection pool (once the attempts in flight have settled). */
  close(): Promise<void>;
}

/** The sender of a dispatcher: writes the outcome of each attempt to `deliveries`. */
export function createWebhookSender(
  deliveries: WebhookDeliveryStore,
  options: WebhookDispatcherOptions,
): WebhookSender {
  const { clock, owner, logger } = options;
  let dispatcher: Agent | undefined;
  let abort = new AbortController();

  const backoff = (endpoint: Endpoint, attempts: number) => {
    const base = Math.min(
      endpoint.maxBackoffMs,
      endpoint.backoffMs * 2 ** Math.max(0, attempts - 1),
    );
    return Math.round(base * (0.8 + Math.random() * 0.4));
  };

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

  return {
    send,
    resume() {
      if (abort.signal.aborted) abort = new AbortController();
    },
    interrupt() {
      abort.abort();
    },
    async close() {
      await dispatcher?.close().catch(() => undefined);
      dispatcher = undefined;
    },
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
