import { Registry, collectDefaultMetrics } from 'prom-client';
import { createRequestFamilies } from './metric-families.js';
import { createMetricHooks, type HookOptions, type MetricHooks } from './metric-hooks.js';
import { createMetricsObserver, type ObserverOptions } from './metrics-observer.js';
import type { GatewayObserver } from './observer.js';
import { merged } from '../core/objects.js';

/**
 * Prometheus metrics of the gateway. Names follow Prometheus conventions (base units, `_total`
 * counters, `_seconds` durations) and, for the GenAI client metrics, the OpenTelemetry semantic
 * conventions mapped to Prometheus (`gen_ai.client.token.usage` → `gen_ai_client_token_usage`).
 * See https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/
 */

/** What the metrics need to know about the deployments (provider id → type). */
export interface MetricsOptions extends ObserverOptions, HookOptions {
  registry?: Registry;
  /** Default process metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
}

/** The metric families, for scrape-time collectors and other hooks. */
export interface GatewayMetrics extends MetricHooks {
  registry: Registry;
  observer: GatewayObserver;
}

/** Creates the metric families and the observer that feeds them. */
export function createGatewayMetrics(options: MetricsOptions): GatewayMetrics {
  const registry = options.registry ?? new Registry();
  if (options.processMetrics !== false)
    collectDefaultMetrics({ register: registry, prefix: 'switchyard_' });
  const registers = [registry];
  const families = createRequestFamilies(registry, registers);
  const observer = createMetricsObserver(families, options, registers);
  return merged({ registry, observer }, createMetricHooks(registers, options));
}
