export { createDatabase } from './database.js';
export type { Database, DatabaseOptions, Dialect } from './database.js';
export { migrate } from './migrate.js';
export { MIGRATIONS, int64 } from './migrations/index.js';
export type { Migration } from './migrations/index.js';
export type { Int32, Int32Nullable, Int64, Int64Nullable, Schema, UsageEventsTable } from './schema.js';
export { createUsageRepository } from './usage-repository.js';
export type {
  UsageAttempt,
  UsageEvent,
  UsageListFilter,
  UsageRepository,
  UsageStatus,
  UsageSummaryFilter,
  UsageSummaryRow,
} from './usage-repository.js';
export { createRuntimeRepository } from './runtime-repository.js';
export type {
  ConversationRecord,
  ItemBody,
  ItemPage,
  NewItem,
  PageOptions,
  RuntimeRepository,
  SaveResponseInput,
  StoredResponse,
  SweepResult,
} from './runtime-repository.js';
