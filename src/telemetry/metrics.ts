import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UsageEvent } from '../store/index.js';
import { genAiProviderName } from './gen-ai.js';
import type { Pricer } from './money.js';
import {
  type CounterChild,
  FastCounter,
  FastHistogram,
  type HistogramChild,
} from './fast-metrics.js';
import type { AttemptEnd, AttemptStart, GatewayObserver, RequestStart } from './observer.js';
import { merged } from '../core/objects.js';

/**
 * Prometheus metrics of the gateway. Names follow Prometheus conventions (base units, `_total`
 * counters, `_seconds` durations) and, for the GenAI client metrics, the OpenTelemetry semantic
 * conventions mapped to Prometheus (`gen_ai.client.token.usage` → `gen_ai_client_token_usage`).
 * See https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/
 */

/** Latency buckets, seconds (OTel GenAI recommendation for operation duration). */
const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** Token-count buckets (OTel GenAI recommendation for token usage). */
const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

const REQUEST_LABELS = ['surface', 'model', 'deployment', 'partner'] as const;
const GEN_AI_LABELS = [
  'gen_ai_operation_name',
  'gen_ai_provider_name',
  'gen_ai_request_model',
  'gen_ai_response_model',
] as const;

/** What the metrics need to know about the deployments (provider id → type). */
export interface MetricsOptions {
  registry?: Registry;
  /** Provider id → provider type, for `gen_ai_provider_name`. */
  providerTypes: ReadonlyMap<string, string>;
  pricer: Pricer;
  /**
   * The model names of the configuration. A `model` label takes only these values: any other
   * name a client sends is counted as `unknown`, so clients cannot grow /metrics without bound.
   */
  models: ReadonlySet<string>;
  /** Whether Redis is configured: without it, no Redis series is exported at all. */
  redis?: boolean;
  /** Default process metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
}

/** The label of a model name that is not in the configuration. */
export const UNKNOWN_LABEL = 'unknown';
/** Distinct upstream response-model names kept as label values before the rest become `other`. */
const MAX_RESPONSE_MODELS = 64;

/** The metric families, for scrape-time collectors and other hooks. */
export interface GatewayMetrics {
  registry: Registry;
  observer: GatewayObserver;
  breakerState: Gauge<'model' | 'deployment' | 'partner' | 'state'>;
  deploymentLatency: Gauge<'model' | 'deployment' | 'partner' | 'kind'>;
  budgetAlerts: Counter<'level' | 'percent'>;
  budgetUse: Gauge<'level' | 'scope'>;
  backgroundRuns: Gauge<'status'>;
  /** Webhook deliveries queued in the last 24 h by status (read from the store at scrape). */
  webhookDeliveries: Gauge<'status'>;
  /** Age of the oldest pending webhook delivery, seconds (0 when none): what to alert on. */
  webhookOldestPending: Gauge;
  /** Counts a webhook delivery attempt by how it ended (delivered, retry, failed, interrupted). */
  webhookAttempt(outcome: string): void;
  storeDuration: Histogram<'operation'>;
  /** Billing's group-commit hook: one usage commit of `events` events took `ms`. */
  usageCommit(ms: number, events: number): void;
  storeLatency: Gauge;
  /** Present only when Redis is configured. */
  redisLatency: Gauge | undefined;
  /** Reads the usage spool's counters at scrape (spooled, replayed, waiting, oldest). */
  watchSpool(read: () => SpoolCounters | undefined): void;
}

/** The usage spool's counters, as billing/spool.ts reports them. */
export interface SpoolCounters {
  spooled: number;
  replayed: number;
  rejected: number;
  waiting: number;
  oldestAt: number | null;
}

/** Children pre-bound to one label set, so the request path does no label hashing. */
interface Bound {
  requests: CounterChild;
  duration: HistogramChild;
  ttft: HistogramChild;
  input: CounterChild;
  output: CounterChild;
  cached: CounterChild;
  reasoning: CounterChild;
  revenue: CounterChild;
  cost: CounterChild;
  genAiDuration: HistogramChild;
  genAiInput: HistogramChild;
  genAiOutput: HistogramChild;
}

/** Creates the metric families and the observer that feeds them. */
export function createGatewayMetrics(options: MetricsOptions): GatewayMetrics {
  const registry = options.registry ?? new Registry();
  if (options.processMetrics !== false)
    collectDefaultMetrics({ register: registry, prefix: 'switchyard_' });
  const registers = [registry];
  // The request path's families are FastCounter/FastHistogram (bound children, no hashing);
  // rarer ones (errors, rejections, failed attempts) are plain prom-client metrics.
  const requests = new FastCounter(
    'switchyard_requests_total',
    'Requests handled, by how they ended (status ok, error or aborted).',
    [...REQUEST_LABELS, 'status'],
    registry,
  );
  const errors = new Counter({
    name: 'switchyard_request_errors_total',
    help: 'Failed requests by error code and class.',
    labelNames: [...REQUEST_LABELS, 'error_code', 'error_class'],
    registers,
  });
  const duration = new FastHistogram(
    'switchyard_request_duration_seconds',
    'Time from request arrival to the end of the answer.',
    [...REQUEST_LABELS, 'status'],
    DURATION_BUCKETS,
    registry,
  );
  const ttft = new FastHistogram(
    'switchyard_time_to_first_token_seconds',
    'Time from request arrival to the first streamed item.',
    REQUEST_LABELS,
    DURATION_BUCKETS,
    registry,
  );
  const tokens = new FastCounter(
    'switchyard_tokens_total',
    'Tokens metered (input includes cached_input, output includes reasoning).',
    [...REQUEST_LABELS, 'type'],
    registry,
  );
  const revenue = new FastCounter(
    'switchyard_revenue_usd_total',
    'Revenue at list price (model price), USD.',
    REQUEST_LABELS,
    registry,
  );
  const cost = new FastCounter(
    'switchyard_cost_usd_total',
    'Upstream cost (deployment cost), USD.',
    REQUEST_LABELS,
    registry,
  );
  const rejections = new Counter({
    name: 'switchyard_rate_limit_rejections_total',
    help: 'Requests refused by a rate limit, concurrency limit or budget.',
    labelNames: ['surface', 'reason'],
    registers,
  });
  const attempts = new FastCounter(
    'switchyard_upstream_attempts_total',
    'Upstream attempts by outcome and error class.',
    ['deployment', 'partner', 'outcome', 'error_class'],
    registry,
  );
  const attemptDuration = new FastHistogram(
    'switchyard_upstream_attempt_duration_seconds',
    'Time of one upstream attempt until its first byte (or failure).',
    ['deployment', 'partner'],
    DURATION_BUCKETS,
    registry,
  );
  const genAiDuration = new FastHistogram(
    'gen_ai_client_operation_duration_seconds',
    'GenAI operation duration (OpenTelemetry gen_ai.client.operation.duration).',
    [...GEN_AI_LABELS, 'error_type'],
    DURATION_BUCKETS,
    registry,
  );
  const genAiTokens = new FastHistogram(
    'gen_ai_client_token_usage',
    'Tokens per GenAI operation (OpenTelemetry gen_ai.client.token.usage).',
    [...GEN_AI_LABELS, 'gen_ai_token_type'],
    TOKEN_BUCKETS,
    registry,
  );
  let active = 0;
  new Gauge({
    name: 'switchyard_requests_in_flight',
    help: 'Requests inside the gateway core now.',
    registers,
    collect() {
      this.set(active);
    },
  });

  // Usage commits are timed per group commit (billing's hook), not per request: one observation
  // per batch, and the figure an operator needs (how long the store takes to commit, and how
  // many events share a commit under the current load).
  const storeDuration = new Histogram({
    name: 'switchyard_store_operation_duration_seconds',
    help: 'Store writes on the request path (usage_commit: one group commit of usage events and their ledger postings).',
    labelNames: ['operation'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });
  const commitDuration = storeDuration.labels({ operation: 'usage_commit' });
  const commitEvents = new Histogram({
    name: 'switchyard_usage_commit_events',
    help: 'Usage events per group commit (grows with load as concurrent requests share a commit).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048],
    registers,
  });

  // The usage spool (store outages): read at scrape from the spool's own counters.
  let readSpool: () => SpoolCounters | undefined = () => undefined;
  const spoolTotal = (name: string, help: string, pick: (counters: SpoolCounters) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        const counters = readSpool();
        this.reset();
        if (counters) this.inc(pick(counters));
      },
    });
  spoolTotal(
    'switchyard_usage_spooled_total',
    'Usage events written to the local spool because the store could not commit them in time.',
    (counters) => counters.spooled,
  );
  spoolTotal(
    'switchyard_usage_replayed_total',
    'Spooled usage events replayed into the store.',
    (counters) => counters.replayed,
  );
  spoolTotal(
    'switchyard_usage_rejected_total',
    'Spooled usage events the store refused for their data, set aside in rejected.jsonl.',
    (counters) => counters.rejected,
  );
  new Gauge({
    name: 'switchyard_usage_spool_waiting',
    help: 'Usage events waiting in the local spool for the store.',
    registers,
    collect() {
      this.set(readSpool()?.waiting ?? 0);
    },
  });
  new Gauge({
    name: 'switchyard_usage_spool_oldest_seconds',
    help: 'Age of the oldest usage event waiting in the spool (0 when none): what to alert on.',
    registers,
    collect() {
      const oldest = readSpool()?.oldestAt ?? null;
      this.set(oldest === null ? 0 : Math.max(0, Date.now() - oldest) / 1000);
    },
  });

  const webhookAttempts = new Counter({
    name: 'switchyard_webhook_attempts_total',
    help: 'Webhook delivery attempts by how they ended: delivered, retry (will try again), failed (gave up), interrupted (shutdown).',
    labelNames: ['outcome'],
    registers,
  });

  // Label values come from the configuration only (model names, deployments, partners); what an
  // upstream reports as its model is kept for the first MAX_RESPONSE_MODELS names, then `other`.
  const modelLabel = (name: string): string => (options.models.has(name) ? name : UNKNOWN_LABEL);
  const responseModels = new Set<string>();
  const responseModelLabel = (name: string | null): string => {
    if (name === null || name === '') return '';
    if (responseModels.has(name)) return name;
    if (responseModels.size >= MAX_RESPONSE_MODELS) return 'other';
    responseModels.add(name);
    return name;
  };
  const bound = new Map<string, Bound>();
  const bind = (
    surface: string,
    model: string,
    deployment: string,
    partner: string,
    providerName: string,
    responseModel: string,
  ): Bound => {
    const base = { surface, model, deployment, partner };
    const genAi = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: providerName,
      gen_ai_request_model: model,
      gen_ai_response_model: responseModel,
    };
    return {
      requests: requests.bind(merged(base, { status: 'ok' })),
      duration: duration.bind(merged(base, { status: 'ok' })),
      ttft: ttft.bind(base),
      input: tokens.bind(merged(base, { type: 'input' })),
      output: tokens.bind(merged(base, { type: 'output' })),
      cached: tokens.bind(merged(base, { type: 'cached_input' })),
      reasoning: tokens.bind(merged(base, { type: 'reasoning' })),
      revenue: revenue.bind(base),
      cost: cost.bind(base),
      genAiDuration: genAiDuration.bind(merged(genAi, { error_type: '' })),
      genAiInput: genAiTokens.bind(merged(genAi, { gen_ai_token_type: 'input' })),
      genAiOutput: genAiTokens.bind(merged(genAi, { gen_ai_token_type: 'output' })),
    };
  };
  const attemptChildren = new Map<string, { ok: CounterChild; duration: HistogramChild }>();

  const end = (start: RequestStart, event: UsageEvent) => {
    active -= 1;
    if (start.internal) return; // the runtime's response-level request is metered, not each step twice
    const model = modelLabel(event.model ?? event.modelRequested ?? '');
    const responseModel = responseModelLabel(event.upstreamModel);
    const deployment = event.deployment ?? '';
    const partner = event.partner ?? '';
    const seconds = event.latencyMs / 1000;
    if (event.status !== 'ok') {
      const labels = { surface: event.surface, model, deployment, partner };
      requests.bind(merged(labels, { status: event.status })).value += 1;
      duration.bind(merged(labels, { status: event.status })).observe(seconds);
      if (event.status === 'error') {
        const code = event.errorCode ?? 'unknown';
        const errorClass = event.attemptLog.at(-1)?.errorClass ?? classOf(code);
        errors.inc(merged(labels, { error_code: code, error_class: errorClass }));
        if (code === 'rate_limited' || code === 'budget_exceeded')
          rejections.inc({ surface: event.surface, reason: code });
        if (deployment !== '')
          genAiDuration
            .bind({
              gen_ai_operation_name: start.operation,
              gen_ai_provider_name: genAiProviderName(options.providerTypes.get(deployment)),
              gen_ai_request_model: model,
              gen_ai_response_model: responseModel,
              error_type: code,
            })
            .observe(seconds);
      }
      return;
    }
    const key = `${event.surface}\u0001${model}\u0001${deployment}\u0001${partner}\u0001${responseModel}`;
    let children = bound.get(key);
    if (!children)
      bound.set(
        key,
        (children = bind(
          event.surface,
          model,
          deployment,
          partner,
          genAiProviderName(options.providerTypes.get(deployment)),
          responseModel,
        )),
      );
    children.requests.value += 1;
    children.duration.observe(seconds);
    children.genAiDuration.observe(seconds);
    if (event.stream && event.ttfbMs !== null) children.ttft.observe(event.ttfbMs / 1000);
    if (event.inputTokens > 0) {
      children.input.value += event.inputTokens;
      children.genAiInput.observe(event.inputTokens);
    }
    if (event.outputTokens > 0) {
      children.output.value += event.outputTokens;
      children.genAiOutput.observe(event.outputTokens);
    }
    if (event.cachedInputTokens > 0) children.cached.value += event.cachedInputTokens;
    if (event.reasoningTokens > 0) children.reasoning.value += event.reasoningTokens;
    const amounts = options.pricer.price(event);
    if (amounts.revenueUsd > 0) children.revenue.value += amounts.revenueUsd;
    if (amounts.costUsd > 0) children.cost.value += amounts.costUsd;
  };

  const noop = () => {};
  const observer: GatewayObserver = {
    requestStart(start) {
      active += 1;
      return { headers: undefined, firstToken: noop, end: (event) => end(start, event) };
    },
    attemptStart(start: AttemptStart) {
      return {
        headers: undefined,
        end(outcome: AttemptEnd) {
          const partner = start.partner ?? '';
          if (outcome.errorClass !== null) {
            attempts.bind({
              deployment: start.deployment,
              partner,
              // The request's own failures (invalid, the client left) are not the deployment's errors.
              outcome: CLIENT_CAUSED.has(outcome.errorClass) ? 'client_error' : 'error',
              error_class: outcome.errorClass,
            }).value += 1;
            attemptDuration
              .bind({ deployment: start.deployment, partner })
              .observe(outcome.ms / 1000);
            return;
          }
          const key = `${start.deployment}\u0001${partner}`;
          let children = attemptChildren.get(key);
          if (!children)
            attemptChildren.set(
              key,
              (children = {
                ok: attempts.bind({
                  deployment: start.deployment,
                  partner,
                  outcome: 'ok',
                  error_class: '',
                }),
                duration: attemptDuration.bind({ deployment: start.deployment, partner }),
              }),
            );
          children.ok.value += 1;
          children.duration.observe(outcome.ms / 1000);
        },
      };
    },
  };

  return {
    registry,
    observer,
    breakerState: new Gauge({
      name: 'switchyard_breaker_state',
      help: 'Circuit breaker state per deployment (1 for the current state).',
      labelNames: ['model', 'deployment', 'partner', 'state'],
      registers,
    }),
    deploymentLatency: new Gauge({
      name: 'switchyard_deployment_latency_seconds',
      help: "The router's latency estimate (EWMA) per deployment.",
      labelNames: ['model', 'deployment', 'partner', 'kind'],
      registers,
    }),
    budgetAlerts: new Counter({
      name: 'switchyard_budget_alerts_total',
      help: 'Budget thresholds crossed.',
      labelNames: ['level', 'percent'],
      registers,
    }),
    budgetUse: new Gauge({
      name: 'switchyard_budget_use_ratio',
      help: 'Share of a budget spent, as of its last alert.',
      labelNames: ['level', 'scope'],
      registers,
    }),
    backgroundRuns: new Gauge({
      name: 'switchyard_background_runs',
      help: 'Stored responses (background runs) of the last 24 h by status.',
      labelNames: ['status'],
      registers,
    }),
    webhookDeliveries: new Gauge({
      name: 'switchyard_webhook_deliveries',
      help: 'Webhook deliveries queued in the last 24 h by status (pending, delivered, failed, skipped).',
      labelNames: ['status'],
      registers,
    }),
    webhookAttempt: (outcome) => webhookAttempts.inc({ outcome }),
    webhookOldestPending: new Gauge({
      name: 'switchyard_webhook_oldest_pending_seconds',
      help: 'Age of the oldest pending webhook delivery (0 when none is pending).',
      registers,
    }),
    storeDuration,
    usageCommit(ms, events) {
      commitDuration.observe(ms / 1000);
      commitEvents.observe(events);
    },
    watchSpool(read) {
      readSpool = read;
    },
    storeLatency: new Gauge({
      name: 'switchyard_store_ping_seconds',
      help: 'Round trip of `select 1` to the store, measured at scrape.',
      registers,
    }),
    redisLatency: options.redis
      ? new Gauge({
          name: 'switchyard_redis_ping_seconds',
          help: 'Round trip of PING to Redis, measured at scrape (absent without Redis).',
          registers,
        })
      : undefined,
  };
}

/** Attempt error classes caused by the request or its client, not by the deployment. */
const CLIENT_CAUSED = new Set([
  'invalid_request',
  'context_overflow',
  'content_policy',
  'client_closed',
]);

function classOf(code: string): string {
  if (code === 'rate_limited' || code === 'budget_exceeded') return 'rate_limited';
  if (code === 'unauthorized' || code === 'forbidden') return 'auth';
  if (code === 'model_not_found' || code === 'not_found') return 'not_found';
  if (code.startsWith('upstream_') || code === 'no_deployment_available') return 'upstream';
  return 'invalid_request';
}
