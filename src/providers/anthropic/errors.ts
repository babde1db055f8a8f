import { type ErrorClass, type ErrorCode, UpstreamError } from '../../errors/index.js';
import { first, retryAfterMs } from '../../transport/retry-after.js';
import type { UpstreamErrorResponse } from '../adapter.js';
import { merged } from '../../core/objects.js';

/** Status Anthropic uses for each error type, for errors that arrive inside a 200 stream. */
const STATUS_OF_TYPE: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

const CONTEXT_OVERFLOW =
  /prompt is too long|context window|too many (?:input )?tokens|exceeds? the (?:maximum|context)/i;

interface Classification {
  code: ErrorCode;
  status: number;
  errorClass: ErrorClass;
  retryable: boolean;
  failover: boolean;
}

/**
 * Classifies an Anthropic error by HTTP status and `error.type`
 * (https://docs.claude.com/en/api/errors, ../shared/protocols/error-classification.md).
 * Problems with Switchyard's own upstream credentials or deployment (401, 403, 404, 402) are
 * reported to clients as 502/402, never as the client's own 401/404.
 */
export function classify(
  status: number,
  type: string | undefined,
  message: string,
): Classification {
  const byType = type === undefined ? undefined : STATUS_OF_TYPE[type];
  const effective = status === 400 && byType !== undefined && byType !== 400 ? byType : status;
  if (type === 'overloaded_error' || effective === 529) {
    return {
      code: 'upstream_overloaded',
      status: 529,
      errorClass: 'overloaded',
      retryable: true,
      failover: true,
    };
  }
  if (type === 'rate_limit_error' || effective === 429) {
    return {
      code: 'upstream_rate_limited',
      status: 429,
      errorClass: 'rate_limited',
      retryable: true,
      failover: true,
    };
  }
  if (type === 'billing_error' || effective === 402) {
    return {
      code: 'quota_exhausted',
      status: 402,
      errorClass: 'quota_exhausted',
      retryable: false,
      failover: true,
    };
  }
  if (
    type === 'authentication_error' ||
    type === 'permission_error' ||
    effective === 401 ||
    effective === 403
  ) {
    return {
      code: 'upstream_auth',
      status: 502,
      errorClass: 'auth',
      retryable: false,
      failover: true,
    };
  }
  if (type === 'not_found_error' || effective === 404) {
    return {
      code: 'upstream_not_found',
      status: 502,
      errorClass: 'not_found',
      retryable: false,
      failover: true,
    };
  }
  if (type === 'timeout_error' || effective === 504 || effective === 408) {
    return {
      code: 'upstream_timeout',
      status: 504,
      errorClass: 'timeout',
      retryable: true,
      failover: true,
    };
  }
  if (type === 'conflict_error' || effective === 409) {
    return {
      code: 'upstream_error',
      status: 409,
      errorClass: 'conflict',
      retryable: true,
      failover: true,
    };
  }
  if (effective === 503) {
    return {
      code: 'upstream_overloaded',
      status: 503,
      errorClass: 'overloaded',
      retryable: true,
      failover: true,
    };
  }
  if (type === 'api_error' || effective >= 500) {
    return {
      code: 'upstream_error',
      status: 502,
      errorClass: 'server_error',
      retryable: true,
      failover: true,
    };
  }
  if (CONTEXT_OVERFLOW.test(message)) {
    // A bigger context window elsewhere may take it: fail over, but never retry the same model.
    return {
      code: 'context_length_exceeded',
      status: 400,
      errorClass: 'context_overflow',
      retryable: false,
      failover: true,
    };
  }
  return {
    code: 'invalid_request',
    status: effective === 413 ? 413 : 400,
    errorClass: 'invalid_request',
    retryable: false,
    failover: false,
  };
}

/** Reads `{"type":"error","error":{"type","message"}}`, tolerating non-JSON bodies (413 from the CDN). */
export function parseErrorBody(body: string): { type?: string; message?: string } {
  try {
    const json = JSON.parse(body) as { error?: { type?: unknown; message?: unknown } };
    const error = json.error;
    return merged(
      typeof error?.type === 'string' ? { type: error.type } : {},
      typeof error?.message === 'string' ? { message: error.message } : {},
    );
  } catch {
    return {};
  }
}

/**
 * Classifies a non-2xx Anthropic answer into an UpstreamError. Rate limits carry the delay from
 * `retry-after`, else from the earliest `anthropic-ratelimit-*-reset` timestamp.
 */
export function classifyAnthropicError(
  response: UpstreamErrorResponse,
  provider: string,
  now: () => number,
): UpstreamError {
  const { type, message } = parseErrorBody(response.body);
  const text = message ?? `Anthropic answered HTTP ${response.status}`;
  const found = classify(response.status, type, text);
  let delay = retryAfterMs(response.headers, now);
  if (delay === undefined && found.errorClass === 'rate_limited')
    delay = resetDelay(response.headers, now);
  return new UpstreamError(
    text,
    merged(found, delay !== undefined ? { retryAfterMs: delay } : {}, {
      upstreamStatus: response.status,
      upstreamBody: response.body,
      provider,
    }),
  );
}

/** Classifies an `event: error` that arrived inside a 200 stream (for example overloaded_error). */
export function classifyStreamError(data: string, provider: string): UpstreamError {
  const { type, message } = parseErrorBody(data);
  const status = (type !== undefined ? STATUS_OF_TYPE[type] : undefined) ?? 500;
  const text = message ?? 'Anthropic stream error';
  return new UpstreamError(
    text,
    merged(classify(status, type, text), {
      upstreamStatus: status,
      upstreamBody: data,
      provider,
    }),
  );
}

/** The reset time of the exhausted bucket (remaining 0), else the earliest reset of any bucket. */
function resetDelay(
  headers: UpstreamErrorResponse['headers'],
  now: () => number,
): number | undefined {
  let exhausted: number | undefined;
  let earliest: number | undefined;
  for (const kind of ['requests', 'tokens', 'input-tokens', 'output-tokens']) {
    const value = first(headers[`anthropic-ratelimit-${kind}-reset`]);
    const at = value === undefined ? Number.NaN : Date.parse(value);
    if (Number.isNaN(at)) continue;
    earliest = Math.min(earliest ?? at, at);
    if (first(headers[`anthropic-ratelimit-${kind}-remaining`]) === '0')
      exhausted = Math.max(exhausted ?? at, at);
  }
  const at = exhausted ?? earliest;
  return at === undefined ? undefined : Math.max(0, at - now());
}
