import type { Migration } from './types.js';

/**
 * `payload` on `webhook_deliveries`: the event data of an alert (alerts/index.ts; budget
 * thresholds, partner caps, licence ends), which, unlike a response webhook, cannot be read back
 * from another table when it is sent. NULL for response webhooks. Alerts carry no request content.
 */
export const webhookPayload: Migration = {
  name: '0012-webhook-payload',
  async up(db) {
    await db.schema.alterTable('webhook_deliveries').addColumn('payload', 'text').execute();
  },
};
