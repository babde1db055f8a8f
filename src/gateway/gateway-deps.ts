import type { Config } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import type { Access } from '../access/index.js';
import type { Executor } from '../router/executor.js';
import type { Catalog } from '../router/catalog.js';
import type { AgreementGap } from '../router/licence-scope.js';
import type { UsageEvent } from '../store/index.js';
import type { GatewayObserver } from '../telemetry/observer.js';

/** Where usage events go (the store's usage repository, or billing on top of it). */
export interface UsageSink {
  record(event: UsageEvent): Promise<unknown>;
}

/** What `createGateway` is made from (src/app.ts wires them). */
export interface GatewayDeps {
  config: Config;
  catalog: Catalog;
  executor: Executor;
  access: Access;
  usage: UsageSink;
  clock: Clock;
  /** Called when recording a usage event fails (it is logged; the answer still goes out). */
  onUsageError?: (error: unknown, event: UsageEvent | undefined) => void;
  /** Telemetry hooks (metrics, traces): told when each request starts and ends. */
  observer?: GatewayObserver;
  /**
   * Told when a request was served through a partner with no licence for the model while
   * `routing.coverageGuard` is `alert` (metrics, log, the `agreement.gap` alert).
   */
  onAgreementGap?: (gap: AgreementGap) => void;
}
