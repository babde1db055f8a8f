export { createDatabase } from './database.js';
export type { Database, DatabaseOptions, Dialect } from './database.js';
export { migrate } from './migrate.js';
export { MIGRATIONS, int64 } from './migrations/index.js';
export type { Migration } from './migrations/index.js';
export type {
  Int32,
  Int32Nullable,
  Int64,
  Int64Nullable,
  Schema,
  UsageEventsTable,
} from './schema.js';
export { createUsageRepository } from './usage/repository.js';
export type {
  UsageAttempt,
  UsageEvent,
  UsageListFilter,
  UsageRepository,
  UsageStatus,
  UsageSummaryFilter,
  UsageSummaryRow,
} from './usage/repository.js';
export { createRuntimeRepository } from './runtime/repository.js';
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
} from './runtime/repository.js';
export { createAccessRepository } from './access/repository.js';
export type { AccessRepository, KeyLookup, Page } from './access/repository.js';
export { createAccessLedger } from './access/ledger.js';
export type { AccessLedger, AuditEntry, AuditFilter, SpendEntry } from './access/ledger.js';
export { accessDb } from './access/records.js';
export type {
  AccessDb,
  Budget,
  BudgetPeriod,
  BudgetRule,
  EntityRecord,
  EntityStatus,
  KeyRecord,
  Limits,
  Policy,
  ProjectRecord,
  TenantRecord,
} from './access/records.js';
