import { createHash } from 'node:crypto';
import type { AlertEvent } from './alert-body.js';
import type { WebhookEventType } from './webhook-format.js';

/**
 * Webhook endpoints: as configured (config `runtime.webhooks[]` and `alerts.webhooks[]`) and as the
 * dispatcher (webhooks.ts) holds them, with the key their deliveries are stored under.
 */

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

/** The alert event types an alert endpoint takes by default (all). */
export const ALERT_TYPES: AlertEvent['type'][] = [
  'budget.threshold',
  'partner.share_cap',
  'licence.ending',
  'commitment.under_use',
  'agreement.gap',
];

/** The stored key of an endpoint: a hash of its URL (the URL itself may carry a token). */
export function endpointKey(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 24);
}

/** An endpoint as the dispatcher holds it: its config resolved, defaults applied. */
export interface Endpoint {
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
