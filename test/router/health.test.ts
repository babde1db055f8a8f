import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/index.js';
import { createHealthTracker } from '../../src/router/health.js';

const serverError = () =>
  new GatewayError('boom', { code: 'upstream_error', status: 502, errorClass: 'server_error' });

describe('circuit breaker', () => {
  it('opens after consecutive failures, half-opens after the cool-down with one trial, closes on success', () => {
    let now = 0;
    const health = createHealthTracker(() => now, { failureThreshold: 3, coolDownMs: 1000 });
    health.recordFailure('d', serverError());
    health.recordFailure('d', serverError());
    expect(health.get('d').state).toBe('closed');
    health.recordFailure('d', serverError());
    expect(health.get('d').state).toBe('open');
    expect(health.isAvailable('d')).toBe(false);
    expect(health.acquire('d')).toBe(false);
    now = 999;
    expect(health.get('d').state).toBe('open');
    now = 1000;
    expect(health.get('d').state).toBe('half-open');
    expect(health.acquire('d')).toBe(true);
    expect(health.acquire('d')).toBe(false); // one trial at a time
    health.recordSuccess('d', { ttfbMs: 5 });
    expect(health.get('d').state).toBe('closed');
    expect(health.acquire('d')).toBe(true);
  });

  it('reopens when the half-open trial fails', () => {
    let now = 0;
    const health = createHealthTracker(() => now, { failureThreshold: 1, coolDownMs: 100 });
    health.recordFailure('d', serverError());
    now = 100;
    expect(health.acquire('d')).toBe(true);
    health.recordFailure('d', serverError());
    expect(health.get('d').state).toBe('open');
    expect(health.get('d').unavailableUntil).toBe(200);
  });

  it('opens on a failure rate over a full window even without a streak', () => {
    const health = createHealthTracker(() => 0, {
      failureThreshold: 100,
      windowSize: 10,
      failureRate: 0.5,
    });
    for (let i = 0; i < 5; i++) {
      health.recordSuccess('d', { ttfbMs: 1 });
      health.recordFailure('d', serverError());
    }
    expect(health.get('d').state).toBe('open');
  });

  it('keeps a deployment out until its retry-after, without counting toward the breaker', () => {
    let now = 0;
    const health = createHealthTracker(() => now, { failureThreshold: 1 });
    health.recordFailure(
      'd',
      new GatewayError('slow down', {
        code: 'upstream_rate_limited',
        status: 429,
        errorClass: 'rate_limited',
        retryAfterMs: 2000,
      }),
    );
    expect(health.get('d').state).toBe('closed');
    expect(health.isAvailable('d')).toBe(false);
    now = 2000;
    expect(health.isAvailable('d')).toBe(true);
  });

  it('cools a deployment down for long on quota exhaustion and ignores client errors', () => {
    let now = 0;
    const health = createHealthTracker(() => now, {
      failureThreshold: 1,
      quotaCoolDownMs: 600_000,
    });
    health.recordFailure(
      'q',
      new GatewayError('quota', {
        code: 'quota_exhausted',
        status: 429,
        errorClass: 'quota_exhausted',
      }),
    );
    now = 599_999;
    expect(health.isAvailable('q')).toBe(false);
    now = 600_000;
    expect(health.isAvailable('q')).toBe(true);
    health.recordFailure('c', new GatewayError('bad', { code: 'invalid_request', status: 400 }));
    health.recordFailure(
      'c',
      new GatewayError('long', {
        code: 'context_length_exceeded',
        status: 400,
        errorClass: 'context_overflow',
      }),
    );
    expect(health.get('c').state).toBe('closed');
    expect(health.isAvailable('c')).toBe(true);
  });

  it('reports shared-state changes and applies remote ones', () => {
    const seen: string[] = [];
    const health = createHealthTracker(() => 0, { failureThreshold: 1, coolDownMs: 50 });
    health.onChange((key, state) => seen.push(`${key}:${state.state}`));
    health.recordFailure('d', serverError());
    health.recordSuccess('d', { ttfbMs: 1 });
    expect(seen).toEqual(['d:open', 'd:closed']);
    health.applyRemote('e', { state: 'open', unavailableUntil: 10 });
    expect(health.isAvailable('e')).toBe(false);
  });
});
