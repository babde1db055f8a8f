import type { WebhookDelivery } from '../../store/webhooks/deliveries.js';

/**
 * Alert events sent through the webhook outbox (agent/webhooks.ts): budget thresholds, partner
 * revenue-share caps and licence ends (alerts/index.ts raises them). An alert's data is stored
 * with its delivery row (`payload`), since nothing else holds it; it never carries request
 * content.
 */

/** One alert, as raised. */
export interface AlertEvent {
  type:
    | 'budget.threshold'
    | 'partner.share_cap'
    | 'licence.ending'
    | 'commitment.under_use'
    | 'agreement.gap';
  /**
   * Identifies the occurrence (`budget:<scope>:<period start>:<percent>`): an alert raised again
   * by another replica, or again by this one, is queued once per endpoint.
   */
  key: string;
  /** Tenant it concerns (endpoints with `tenants` filter on it); null for partner and licence alerts. */
  tenantId: string | null;
  /** One line for people (the Slack format's `text`). */
  text: string;
  /** Machine-readable fields (the standard format's `data`). */
  data: Record<string, unknown>;
  /** Epoch ms it happened. */
  at: number;
}

/** What a delivery row's `payload` holds. */
interface StoredAlert {
  text: string;
  data: Record<string, unknown>;
}

/** The payload column of an alert's delivery row. */
export function alertPayload(alert: AlertEvent): string {
  return JSON.stringify({ text: alert.text, data: alert.data } satisfies StoredAlert);
}

/**
 * The body of an alert: `standard` is shaped like a response webhook (`{id, object: "event",
 * created_at, type, data}`, so one receiver verifies both); `slack` is what a Slack incoming
 * webhook (and Mattermost, Discord's `/slack` endpoints) posts as a message: `{text}`.
 */
export function alertBody(
  delivery: Pick<WebhookDelivery, 'id' | 'type' | 'eventCreatedAt' | 'payload'>,
  format: 'standard' | 'slack',
): string {
  const stored = JSON.parse(delivery.payload ?? '{}') as StoredAlert;
  if (format === 'slack') return JSON.stringify({ text: stored.text });
  return JSON.stringify({
    id: delivery.id,
    object: 'event',
    created_at: Math.floor(delivery.eventCreatedAt / 1000),
    type: delivery.type,
    data: stored.data,
  });
}
