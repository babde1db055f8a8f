export { isLoopback } from '../core/addresses.js';
export { createAccess } from './access.js';
export type {
  Access,
  AccessModule,
  AccessOptions,
  Admission,
  AdmissionRequest,
  ChangeRelay,
  SharedCounters,
} from './access.js';
export type { AccessAdmin, LevelStatus } from './admin.js';
export type {
  Actor,
  EntityPatch,
  KeyInput,
  KeyPatch,
  ProjectInput,
  TenantInput,
} from './admin-inputs.js';
export {
  budgetJson,
  keyJson,
  levelStatusJson,
  limitsJson,
  projectJson,
  tenantJson,
} from './admin-json.js';
export type { BudgetAlert } from './admission.js';
export type { Budget, BudgetPeriod, BudgetRule, Level, Limits, Policy } from './policy.js';
export { MAX_BUDGET_MICROS, modelAllowed, periodOf } from './policy.js';
