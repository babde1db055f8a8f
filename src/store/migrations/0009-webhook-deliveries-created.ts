import { sql } from 'kysely';
import type { Migration } from './types.js';

/**
 * An index on `webhook_deliveries (created_at, id)` for the operators' reads added with the admin
 * API: the delivery list (newest first, paged on `created_at, id`) and the metrics' count of the
 * last 24 h. Without it both scan the table, which only the 7-day prune of finished rows bounds.
 * A delivery row is written once per background response and endpoint, so the index costs the
 * request path nothing.
 */
export const webhookDeliveriesCreated: Migration = {
  name: '0009-webhook-deliveries-created',
  async up(db) {
    await sql`create index if not exists webhook_deliveries_created on webhook_deliveries (created_at, id)`.execute(
      db,
    );
  },
};
