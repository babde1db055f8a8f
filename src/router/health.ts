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
  /** Outcomes of the last `windowSize` attempts (true = failure). */
  recent: boolean[];
  /** A half-open trial is running until this instant. */
  trialUntil: number;
  /** EWMA of time to first byte and of total latency, ms (undefined until measured). */
  ttfbMs: number | undefined;
  latencyMs: number | undefined;
  lastError: string | undefined;
}

/** The part of a deployment's health that replicas share. */
export interface SharedHealthState {
  state: BreakerState;
  unavailableUntil: number;
}

/** Options of the health tracker. */
export interface HealthOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failureThreshold?: number;
  /** Failure rate over the window that opens the breaker. Default 0.5. */
  failureRate?: number;
  /** Attempts remembered for the failure rate; the rate applies once the window is full. Default 20. */
  windowSize?: number;
  /** How long an open breaker stays open before a trial request, ms. Default 30000. */
  coolDownMs?: number;
  /** Cool-down after quota exhaustion, ms. Default 600000. */
  quotaCoolDownMs?: number;
  /** EWMA smoothing factor. Default 0.3. */
  alpha?: number;
}

/** Tracks per-deployment health. */
export interface HealthTracker {
  /** Usable for ordering now (closed, or half-open, and not held out by a delay). */
  isAvailable(key: string): boolean;
  /** Claims the right to send a request now: false while open, or half-open with a trial already running. */
  acquire(key: string): boolean;
  get(key: string): DeploymentHealth;
  recordSuccess(key: string, timing: { ttfbMs: number; latencyMs?: number }): void;
  recordLatency(key: string, latencyMs: number): void;
  recordFailure(key: string, error: GatewayError): void;
  /** Marks a deployment down (or up) by hand. */
  force(key: string, down: boolean): void;
  snapshot(): Map<string, DeploymentHealth>;
  /** Called with the shared part of the state whenever it changes here (for replication). */
  onChange(listener: (key: string, state: SharedHealthState) => void): void;
  /** Applies a state published by another replica. */
  applyRemote(key: string, state: SharedHealthState): void;
}

/**
 * Creates a health tracker with a circuit breaker per deployment: it opens on consecutive
 * failures or a failure rate, half-opens after a cool-down (one trial request at a time), and
 * closes on a success. Quota exhaustion cools a deployment down for long; a retry-after keeps it
 * out until then. Client-caused errors (bad request, context, content policy) do not count.
 */
export function createHealthTracker(clock: Clock, options: HealthOptions = {}): HealthTracker {
  const threshold = options.failureThreshold ?? 5;
  const rate = options.failureRate ?? 0.5;
  const windowSize = options.windowSize ?? 20;
  const coolDown = options.coolDownMs ?? 30_000;
  const quotaCoolDown = options.quotaCoolDownMs ?? 600_000;
  const alpha = options.alpha ?? 0.3;
  const states = new Map<string, DeploymentHealth>();
  const listeners: Array<(key: string, state: SharedHealthState) => void> = [];

  const get = (key: string): DeploymentHealth => {
    let health = states.get(key);
    if (!health) {
      health = {
        state: 'closed',
        unavailableUntil: 0,
        consecutiveFailures: 0,
        recent: [],
        trialUntil: 0,
        ttfbMs: undefined,
        latencyMs: undefined,
        lastError: undefined,
      };
      states.set(key, health);
    }
    if (health.state === 'open' && clock() >= health.unavailableUntil) health.state = 'half-open';
    return health;
  };
  const publish = (key: string, health: DeploymentHealth) => {
    for (const listener of listeners)
      listener(key, { state: health.state, unavailableUntil: health.unavailableUntil });
  };
  const remember = (health: DeploymentHealth, failed: boolean) => {
    health.recent.push(failed);
    if (health.recent.length > windowSize) health.recent.shift();
  };
  const ewma = (previous: number | undefined, value: number) =>
    previous === undefined ? value : previous + alpha * (value - previous);

  return {
    get,
    isAvailable(key) {
      const health = get(key);
      return health.state !== 'open' && clock() >= health.unavailableUntil;
    },
    acquire(key) {
      const health = get(key);
      const now = clock();
      if (health.state === 'open' || now < health.unavailableUntil) return false;
      if (health.state === 'half-open') {
        if (now < health.trialUntil) return false;
        health.trialUntil = now + coolDown;
      }
      return true;
    },
    recordSuccess(key, timing) {
      const health = get(key);
      const changed = health.state !== 'closed' || health.unavailableUntil !== 0;
      health.state = 'closed';
      health.consecutiveFailures = 0;
      health.unavailableUntil = 0;
      health.trialUntil = 0;
      remember(health, false);
      health.ttfbMs = ewma(health.ttfbMs, timing.ttfbMs);
      if (timing.latencyMs !== undefined)
        health.latencyMs = ewma(health.latencyMs, timing.latencyMs);
      if (changed) publish(key, health);
    },
    recordLatency(key, latencyMs) {
      const health = get(key);
      health.latencyMs = ewma(health.latencyMs, latencyMs);
    },
    recordFailure(key, error) {
      const health = get(key);
      health.lastError = error.code;
      const now = clock();
      if (
        error.errorClass === 'invalid_request' ||
        error.errorClass === 'context_overflow' ||
        error.errorClass === 'content_policy' ||
        error.errorClass === 'client_closed' ||
        error.errorClass === 'internal'
      )
        return;
      const before = `${health.state}:${health.unavailableUntil}`;
      if (error.errorClass === 'quota_exhausted') {
        health.unavailableUntil = Math.max(health.unavailableUntil, now + quotaCoolDown);
      } else {
        if (error.retryAfterMs !== undefined)
          health.unavailableUntil = Math.max(health.unavailableUntil, now + error.retryAfterMs);
        if (error.errorClass !== 'rate_limited') {
          health.consecutiveFailures += 1;
          remember(health, true);
          const failures = health.recent.filter(Boolean).length;
          const tripped =
            health.consecutiveFailures >= threshold ||
            (health.recent.length >= windowSize && failures / health.recent.length >= rate);
          if (health.state === 'half-open' || tripped) {
            health.state = 'open';
            health.trialUntil = 0;
            health.unavailableUntil = Math.max(health.unavailableUntil, now + coolDown);
          }
        }
      }
      if (`${health.state}:${health.unavailableUntil}` !== before) publish(key, health);
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
        health.recent = [];
      }
      publish(key, health);
    },
    snapshot: () => new Map([...states.keys()].map((key) => [key, get(key)])),
    onChange(listener) {
      listeners.push(listener);
    },
    applyRemote(key, state) {
      const health = get(key);
      health.state = state.state;
      health.unavailableUntil = state.unavailableUntil;
      if (state.state === 'closed') {
        health.consecutiveFailures = 0;
        health.trialUntil = 0;
      }
    },
  };
}
