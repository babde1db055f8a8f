import { z } from 'zod';
import { webhookSchema } from './runtime.js';

/** Alert event types (alerts/index.ts). */
export const ALERT_EVENT_TYPES = [
  'budget.threshold',
  'partner.share_cap',
  'licence.ending',
  'commitment.under_use',
  'agreement.gap',
] as const;

const percentList = z.array(z.number().int().min(1).max(100)).max(10);

/** Alerts that reach people: budget thresholds, partner caps, licence ends (docs/configuration.md). */
export const alertsSchema = z.strictObject({
  /** Percent of every hard or soft budget (levels and rules) at which an alert goes out, once per period each. Default [50, 80, 100]. */
  budgetThresholds: percentList.default([50, 80, 100]),
  /** Percent of a partner's revenue-share cap accrued at which an alert goes out. Default [80, 100]. */
  partnerCapThresholds: percentList.default([80, 100]),
  /** Days before a partner licence's `until` at which an alert goes out. Default [30, 7, 1]. */
  licenceDays: z.array(z.number().int().min(1).max(365)).max(10).default([30, 7, 1]),
  /** How often partner caps and licences are checked, ms. Default 3600000 (1 hour). */
  checkIntervalMs: z.number().int().positive().default(3_600_000),
  /** Where alerts are sent: signed webhooks (Standard Webhooks), or a Slack-compatible `{text}` body. */
  webhooks: z
    .array(
      webhookSchema.extend({
        events: z.array(z.enum(ALERT_EVENT_TYPES)).min(1).optional(),
        /** `standard`: `{id, object: "event", created_at, type, data}`; `slack`: `{text}` (Slack incoming webhooks). Default standard. */
        format: z.enum(['standard', 'slack']).default('standard'),
      }),
    )
    .default([]),
});
