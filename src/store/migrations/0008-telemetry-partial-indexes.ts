import { sql } from 'kysely';
import type { Migration } from './types.js';

/**
 * Replaces the roll-ups' key and project indexes (`detail, key_id | project_id, bucket_start`)
 * with partial ones over the detailed rows only (`key_id | project_id, bucket_start where
 * detail = 1`). The old ones also covered every coarse row (project and key '*'), which made them
 * look like a cheap way into a time range: Postgres read the overview's hour rows through the
 * project index and then threw away the minute and day rows it had fetched. Now only a key or
 * project filter can use them, and they are smaller to write. `if exists` / `if not exists`, so
 * it is safe on any store that applied 0007.
 */
export const telemetryPartialIndexes: Migration = {
  name: '0008-telemetry-partial-indexes',
  async up(db) {
    await sql`drop index if exists telemetry_usage_rollups_key`.execute(db);
    await sql`drop index if exists telemetry_usage_rollups_project`.execute(db);
    await sql`create index if not exists telemetry_usage_rollups_detail_key on telemetry_usage_rollups (key_id, bucket_start) where detail = 1`.execute(
      db,
    );
    await sql`create index if not exists telemetry_usage_rollups_detail_project on telemetry_usage_rollups (project_id, bucket_start) where detail = 1`.execute(
      db,
    );
  },
};
