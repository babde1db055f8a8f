import { createHmac } from 'node:crypto';
import type { WebhookDelivery } from '../../store/webhooks/deliveries.js';

/**
 * The wire format of a webhook event (Standard Webhooks, as OpenAI sends its own; webhooks.ts
 * sends them): the event types, the body, and the signature the `openai` SDKs'
 * `client.webhooks.unwrap()` verifies.
 */

export const WEBHOOK_EVENT_TYPES = [
  'response.completed',
  'response.failed',
  'response.cancelled',
  'response.incomplete',
] as const;
/** A run's webhook event type (`response.completed`, …). */
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'incomplete']);

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
