import { Counter, type Registry } from 'prom-client';
import { FastCounter, FastHistogram } from './fast-metrics.js';

/**
 * The metric families of the request path: requests, durations, tokens, money, rejections,
 * upstream attempts and the OpenTelemetry GenAI client metrics. The observer feeds them
 * (metrics-observer.ts).
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

type RequestLabel = (typeof REQUEST_LABELS)[number];
type GenAiLabel = (typeof GEN_AI_LABELS)[number];

/** The request path's families, made once per registry. */
export interface RequestFamilies {
  requests: FastCounter<RequestLabel | 'status'>;
  errors: Counter<RequestLabel | 'error_code' | 'error_class'>;
  duration: FastHistogram<RequestLabel | 'status'>;
  ttft: FastHistogram<RequestLabel>;
  tokens: FastCounter<RequestLabel | 'type'>;
  revenue: FastCounter<RequestLabel>;
  cost: FastCounter<RequestLabel>;
  rejections: Counter<'surface' | 'reason'>;
  attempts: FastCounter<'deployment' | 'partner' | 'outcome' | 'error_class'>;
  attemptDuration: FastHistogram<'deployment' | 'partner'>;
  genAiDuration: FastHistogram<GenAiLabel | 'error_type'>;
  genAiTokens: FastHistogram<GenAiLabel | 'gen_ai_token_type'>;
}

/** Creates the request path's families in `registry` (`registers` is `[registry]`). */
export function createRequestFamilies(registry: Registry, registers: Registry[]): RequestFamilies {
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
  return {
    requests,
    errors,
    duration,
    ttft,
    tokens,
    revenue,
    cost,
    rejections,
    attempts,
    attemptDuration,
    genAiDuration,
    genAiTokens,
  };
}
