import type { Clock } from '../core/clock.js';
import type { GatewayError } from '../errors/index.js';

/** Breaker state of one deployment. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** What the router knows about one deployment's health and speed. */
export interface DeploymentHealth {
  state: BreakerState;
  /** Not to be used before this instant (retry-after, quota cool-down, open breaker). */
  unavailableUntil: number;
  consecutiveFailures: number;
  /** EWMA of time to first byte and of total latency, ms (undefined until measured). */
  ttfbMs: number | undefined;
  latencyMs: number | undefined;
  lastError: string | undefined;
}

/** Options of the health tracker. */
export interface HealthOptions {
  /** Consecutive failures that open the breaker. Default 3. */
  failureThreshold?: number;
  /** How long an open breaker stays open before a trial request, ms. Default 30000. */
  coolDownMs?: number;
  /** Cool-down after quota exhaustion, ms. Default 600000. */
  quotaCoolDownMs?: number;
  /** EWMA smoothing factor. Default 0.3. */
  alpha?: number;
}

/** Tracks per-deployment health in this process. */
export interface HealthTracker {
  isAvailable(key: string): boolean;
  get(key: string): DeploymentHealth;
  recordSuccess(key: string, timing: { ttfbMs: number; latencyMs?: number }): void;
  recordFailure(key: string, error: GatewayError): void;
  /** Marks a deployment down (or up) by hand: sandbox fault injection and admin. */
  force(key: string, down: boolean): void;
  snapshot(): Map<string, DeploymentHealth>;
}

/** Creates an in-memory health tracker with a consecutive-failure circuit breaker. */
export function createHealthTracker(clock: Clock, options: HealthOptions = {}): HealthTracker {
  const threshold = options.failureThreshold ?? 3;
  const coolDown = options.coolDownMs ?? 30_000;
  const quotaCoolDown = options.quotaCoolDownMs ?? 600_000;
  const alpha = options.alpha ?? 0.3;
  const states = new Map<string, DeploymentHealth>();

  const get = (key: string): DeploymentHealth => {
    let health = states.get(key);
    if (!health) {
      health = { state: 'closed', unavailableUntil: 0, consecutiveFailures: 0, ttfbMs: undefined, latencyMs: undefined, lastError: undefined };
      states.set(key, health);
    }
    if (health.state === 'open' && clock() >= health.unavailableUntil) health.state = 'half-open';
    return health;
  };
  const ewma = (previous: number | undefined, value: number) => (previous === undefined ? value : previous + alpha * (value - previous));

  return {
    get,
    isAvailable(key) {
      const health = get(key);
      return health.state !== 'open' && clock() >= health.unavailableUntil;
    },
    recordSuccess(key, timing) {
      const health = get(key);
      health.state = 'closed';
      health.consecutiveFailures = 0;
      health.unavailableUntil = 0;
      health.ttfbMs = ewma(health.ttfbMs, timing.ttfbMs);
      if (timing.latencyMs !== undefined) health.latencyMs = ewma(health.latencyMs, timing.latencyMs);
    },
    recordFailure(key, error) {
      const health = get(key);
      health.lastError = error.code;
      const now = clock();
      if (error.errorClass === 'invalid_request' || error.errorClass === 'context_overflow' || error.errorClass === 'content_policy') return;
      if (error.errorClass === 'quota_exhausted') {
        health.unavailableUntil = now + quotaCoolDown;
        return;
      }
      if (error.retryAfterMs !== undefined) health.unavailableUntil = Math.max(health.unavailableUntil, now + error.retryAfterMs);
      if (error.errorClass === 'rate_limited') return;
      health.consecutiveFailures += 1;
      if (health.state === 'half-open' || health.consecutiveFailures >= threshold) {
        health.state = 'open';
        health.unavailableUntil = Math.max(health.unavailableUntil, now + coolDown);
      }
    },
    force(key, down) {
      const health = get(key);
      if (down) {
        health.state = 'open';
        health.unavailableUntil = Number.MAX_SAFE_INTEGER;
      } else {
        health.state = 'closed';
        health.unavailableUntil = 0;
        health.consecutiveFailures = 0;
      }
    },
    snapshot: () => new Map([...states.keys()].map((key) => [key, get(key)])),
  };
}
