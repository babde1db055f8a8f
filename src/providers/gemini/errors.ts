import type { ErrorClass, ErrorCode } from '../../errors/index.js';
import { UpstreamError } from '../../errors/index.js';
import { durationToMs, retryAfterMs } from '../../transport/retry-after.js';
import type { UpstreamErrorResponse } from '../adapter.js';
import type { GoogleErrorBody } from './types.js';

/**
 * Classifies Google API errors (`{"error":{"code","message","status","details"}}`, possibly
 * wrapped in an array by the non-SSE stream) for the router, per
 * ../shared/protocols/error-classification.md and gemini-vertex.md §4:
 *
 * | status | → code, class, client status |
 * |---|---|
 * | INVALID_ARGUMENT "input token count … exceeds" | context_length_exceeded, context_overflow, 400 (fails over) |
 * | INVALID_ARGUMENT with ErrorInfo `API_KEY_INVALID` | upstream_auth, auth, 502 |
 * | INVALID_ARGUMENT / OUT_OF_RANGE | invalid_request, 400 |
 * | FAILED_PRECONDITION (billing, region) | quota_exhausted, 429, no retry, fails over |
 * | UNAUTHENTICATED / PERMISSION_DENIED | upstream_auth, auth, 502 (the gateway's credential, not the client's) |
 * | NOT_FOUND | upstream_not_found, not_found, 502 |
 * | RESOURCE_EXHAUSTED per day (QuotaFailure `…PerDay…`, "per day", `limit: 0`) | quota_exhausted, 429, no retry |
 * | RESOURCE_EXHAUSTED otherwise | upstream_rate_limited, rate_limited, 429, retryAfterMs from RetryInfo |
 * | UNAVAILABLE | upstream_overloaded, overloaded, 503 |
 * | DEADLINE_EXCEEDED | upstream_timeout, timeout, 504 |
 * | INTERNAL / UNKNOWN / other 5xx | upstream_error, server_error, 502 (as the OpenAI adapter) |
 *
 * Retry delay: `google.rpc.RetryInfo.retryDelay`, else "Please retry in 17.5s" in the message,
 * else a `retry-after` header.
 */

type Rule = {
  code: ErrorCode;
  errorClass: ErrorClass;
  status: number;
  retryable?: boolean;
  failover?: boolean;
};

const RULES: Record<string, Rule> = {
  INVALID_ARGUMENT: { code: 'invalid_request', errorClass: 'invalid_request', status: 400 },
  OUT_OF_RANGE: { code: 'invalid_request', errorClass: 'invalid_request', status: 400 },
  FAILED_PRECONDITION: {
    code: 'quota_exhausted',
    errorClass: 'quota_exhausted',
    status: 429,
    retryable: false,
  },
  UNAUTHENTICATED: { code: 'upstream_auth', errorClass: 'auth', status: 502, retryable: false },
  PERMISSION_DENIED: { code: 'upstream_auth', errorClass: 'auth', status: 502, retryable: false },
  NOT_FOUND: { code: 'upstream_not_found', errorClass: 'not_found', status: 502, retryable: false },
  RESOURCE_EXHAUSTED: { code: 'upstream_rate_limited', errorClass: 'rate_limited', status: 429 },
  UNAVAILABLE: { code: 'upstream_overloaded', errorClass: 'overloaded', status: 503 },
  DEADLINE_EXCEEDED: { code: 'upstream_timeout', errorClass: 'timeout', status: 504 },
  INTERNAL: { code: 'upstream_error', errorClass: 'server_error', status: 502 },
  UNKNOWN: { code: 'upstream_error', errorClass: 'server_error', status: 502 },
  ABORTED: { code: 'upstream_error', errorClass: 'conflict', status: 409 },
};

const HTTP_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** Classifies a non-2xx Gemini/Vertex answer. */
export function classifyGeminiError(
  response: UpstreamErrorResponse,
  provider: string,
  now?: () => number,
): UpstreamError {
  const error = parseGoogleError(response.body);
  const delay = error ? retryDelayMs(error) : undefined;
  return classifyGoogleError(error?.error, response.status, provider, {
    body: response.body,
    retryAfterMs: delay ?? retryAfterMs(response.headers, now),
  });
}

/** Classifies a Google error object (also used for an error event inside a stream). */
export function classifyGoogleError(
  error: GoogleErrorBody['error'] | undefined,
  httpStatus: number,
  provider: string,
  extra: { body: string; retryAfterMs?: number | undefined },
): UpstreamError {
  const status =
    error?.status ??
    HTTP_STATUS[httpStatus] ??
    (httpStatus >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
  const detail = error?.message ?? (extra.body.slice(0, 200) || `HTTP ${httpStatus}`);
  let rule = RULES[status] ?? (httpStatus >= 500 ? RULES['INTERNAL']! : RULES['INVALID_ARGUMENT']!);
  if (status === 'INVALID_ARGUMENT' && isInvalidKey(error)) {
    rule = RULES['UNAUTHENTICATED']!;
  } else if (
    status === 'INVALID_ARGUMENT' &&
    /token count.*exceeds|exceeds the maximum number of tokens/i.test(detail)
  ) {
    rule = {
      code: 'context_length_exceeded',
      errorClass: 'context_overflow',
      status: 400,
      retryable: false,
      failover: true,
    };
  } else if (status === 'RESOURCE_EXHAUSTED' && error && isDailyQuota(error)) {
    rule = {
      code: 'quota_exhausted',
      errorClass: 'quota_exhausted',
      status: 429,
      retryable: false,
    };
  }
  // Credential and resource errors describe the gateway's setup; keep upstream text out of client messages.
  const message =
    rule.errorClass === 'auth' || rule.errorClass === 'not_found'
      ? `Upstream ${provider} rejected the gateway's request (${status})`
      : `Upstream ${provider} ${status}: ${detail}`;
  const retry =
    rule.errorClass === 'rate_limited' || rule.errorClass === 'overloaded'
      ? extra.retryAfterMs
      : undefined;
  return new UpstreamError(message, {
    code: rule.code,
    status: rule.status,
    errorClass: rule.errorClass,
    ...(rule.retryable === undefined ? {} : { retryable: rule.retryable }),
    ...(rule.failover === undefined ? {} : { failover: rule.failover }),
    ...(retry === undefined ? {} : { retryAfterMs: retry }),
    provider,
    upstreamStatus: httpStatus,
    upstreamBody: extra.body.slice(0, 2048),
  });
}

/** Parses `{"error":…}` or `[{"error":…}]`; undefined when the body is something else (HTML from a proxy). */
export function parseGoogleError(body: string): GoogleErrorBody | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const candidate = Array.isArray(parsed) ? parsed[0] : parsed;
    if (candidate !== null && typeof candidate === 'object' && 'error' in candidate) {
      const error = (candidate as { error: unknown }).error;
      if (error !== null && typeof error === 'object') return candidate as GoogleErrorBody;
    }
  } catch {
    // Not JSON: classified by HTTP status alone.
  }
  return undefined;
}

/** RetryInfo.retryDelay ("17s"), else "Please retry in 17.5s" / "…in 250ms" in the message. */
export function retryDelayMs(body: GoogleErrorBody): number | undefined {
  for (const detail of body.error.details ?? []) {
    if (
      detail['@type']?.endsWith('google.rpc.RetryInfo') &&
      typeof detail['retryDelay'] === 'string'
    ) {
      const ms = durationToMs(detail['retryDelay']);
      if (ms !== undefined) return ms;
    }
  }
  const match = /retry in (\d+(?:\.\d+)?)\s*(ms|s)\b/i.exec(body.error.message ?? '');
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (match[2] === 'ms' ? 1 : 1000));
}

/** Gemini answers a bad API key with 400 INVALID_ARGUMENT + ErrorInfo `API_KEY_INVALID`: a credential problem. */
function isInvalidKey(error: GoogleErrorBody['error'] | undefined): boolean {
  const reasons = (error?.details ?? []).map((detail) => detail['reason']);
  return reasons.includes('API_KEY_INVALID') || /API key not valid/i.test(error?.message ?? '');
}

/** A per-day quota does not clear with backoff; a zero limit means no quota at all (free tier off). */
function isDailyQuota(error: GoogleErrorBody['error']): boolean {
  for (const detail of error.details ?? []) {
    if (!detail['@type']?.endsWith('google.rpc.QuotaFailure')) continue;
    const violations = Array.isArray(detail['violations'])
      ? (detail['violations'] as Array<Record<string, unknown>>)
      : [];
    if (
      violations.some((v) =>
        /per_?day/i.test(`${String(v['quotaId'] ?? '')} ${String(v['quotaMetric'] ?? '')}`),
      )
    )
      return true;
  }
  return /per day|daily|limit: 0\b/i.test(error.message ?? '');
}
