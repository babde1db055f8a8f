/**
 * The ordered list of schema migrations, applied by `migrate()` at start-up.
 *
 * To add one:
 * 1. Create `NNNN-short-name.ts` next to this file (next number, kebab-case) exporting a
 *    `Migration` whose `name` is the file name without `.ts`. Use `int64(dialect)` for money,
 *    token and epoch-ms columns; `'integer'` for counts and 0/1 flags; `'text'` for JSON.
 * 2. Append it to `MIGRATIONS` below. Never reorder, rename or edit a migration that has
 *    shipped: write a new one instead.
 * 3. Add or change the table's type in `../schema.ts`.
 * The contract suite in test/store runs every migration on SQLite and Postgres.
 */
import { usageEvents } from './0001-usage-events.js';
import { runtimeState } from './0002-runtime-state.js';
import { access } from './0003-access.js';
import { billing } from './0004-billing.js';
import { agent } from './0005-agent.js';
import { webhooks } from './0006-webhooks.js';
import { telemetry } from './0007-telemetry.js';
import { telemetryPartialIndexes } from './0008-telemetry-partial-indexes.js';
import { webhookDeliveriesCreated } from './0009-webhook-deliveries-created.js';
import { usageCacheWrites } from './0010-usage-cache-writes.js';
import { budgetRules } from './0011-budget-rules.js';
import { webhookPayload } from './0012-webhook-payload.js';
import { keyIncludeCost } from './0013-key-include-cost.js';
import { rollupCacheWrites } from './0014-rollup-cache-writes.js';
import { telemetryTtfbHistogram } from './0015-telemetry-ttfb-histogram.js';
import type { Migration } from './types.js';

/** Every migration, oldest first. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  usageEvents,
  runtimeState,
  access,
  billing,
  agent,
  webhooks,
  telemetry,
  telemetryPartialIndexes,
  webhookDeliveriesCreated,
  usageCacheWrites,
  budgetRules,
  webhookPayload,
  keyIncludeCost,
  rollupCacheWrites,
  telemetryTtfbHistogram,
];

export { int64 } from './types.js';
export type { Migration } from './types.js';
