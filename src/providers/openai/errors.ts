import { type GatewayError, UpstreamError } from '../../errors/index.js';
import { retryAfterMs } from '../../transport/retry-after.js';
import type { UpstreamErrorResponse } from '../adapter.js';
import { merged } from '../../core/objects.js';

interface OpenAIErrorBody {
  error?: {
    message?: string;
    type?: string;
    code?: string | number | null;
    param?: string | null;
    innererror?: { code?: string };
    inner_error?: { code?: string };
  };
}

/**
 * Classifies an OpenAI or Azure OpenAI error answer.
 * See ../shared/protocols/error-classification.md and azure-openai.md §4.
 */
export function classifyOpenAIError(
  response: UpstreamErrorResponse,
  provider: string,
): GatewayError {
  const parsed = safeJson(response.body) as OpenAIErrorBody | undefined;
  const error = parsed?.error;
  const code = error?.code === undefined || error.code === null ? '' : String(error.code);
  const type = error?.type ?? '';
  const message = error?.message ?? `Upstream answered ${response.status}`;
  const status = response.status;
  const delay = retryAfterMs(response.headers);
  const base = {
    provider,
    upstreamStatus: status,
    upstreamBody: response.body.slice(0, 2048),
    param: error?.param ?? null,
  };
  const inner = error?.innererror?.code ?? error?.inner_error?.code;

  if (code === 'content_filter' || inner === 'ResponsibleAIPolicyViolation') {
    return new UpstreamError(
      message,
      merged(base, {
        code: 'content_filter',
        status: 400,
        errorClass: 'content_policy',
        retryable: false,
        failover: false,
      }),
    );
  }
  if (
    code === 'context_length_exceeded' ||
    /maximum context length|context length/i.test(message)
  ) {
    return new UpstreamError(
      message,
      merged(base, {
        code: 'context_length_exceeded',
        status: 400,
        errorClass: 'context_overflow',
        retryable: false,
        failover: false,
      }),
    );
  }
  if (status === 429 && (code === 'insufficient_quota' || type === 'insufficient_quota')) {
    return new UpstreamError(
      `Deployment ${provider} has exhausted its quota`,
      merged(base, {
        code: 'quota_exhausted',
        status: 429,
        errorClass: 'quota_exhausted',
        retryable: false,
        failover: true,
      }),
    );
  }
  if (status === 429) {
    return new UpstreamError(
      `Deployment ${provider} is rate limited`,
      merged(base, {
        code: 'upstream_rate_limited',
        status: 429,
        errorClass: 'rate_limited',
        ...(delay === undefined ? {} : { retryAfterMs: delay }),
      }),
    );
  }
  if (status === 401 || status === 403) {
    // The client did nothing wrong: our credentials for this upstream are. Don't echo upstream text (it may quote the key).
    return new UpstreamError(
      `Upstream ${provider} rejected Switchyard's credentials (${status})`,
      merged(base, {
        code: 'upstream_auth',
        status: 502,
        errorClass: 'auth',
        retryable: false,
        failover: true,
      }),
    );
  }
  if (status === 404) {
    return new UpstreamError(
      `Upstream ${provider} does not know this model or deployment`,
      merged(base, {
        code: 'upstream_not_found',
        status: 502,
        errorClass: 'not_found',
        retryable: false,
        failover: true,
      }),
    );
  }
  if (status === 408 || status === 504) {
    return new UpstreamError(
      `Upstream ${provider} timed out`,
      merged(base, {
        code: 'upstream_timeout',
        status: 504,
        errorClass: 'timeout',
      }),
    );
  }
  if (status === 503 || status === 529) {
    return new UpstreamError(
      `Upstream ${provider} is overloaded or unavailable`,
      merged(base, {
        code: 'upstream_overloaded',
        status: 503,
        errorClass: 'overloaded',
        ...(delay === undefined ? {} : { retryAfterMs: delay }),
      }),
    );
  }
  if (status >= 500) {
    return new UpstreamError(
      `Upstream ${provider} failed (${status})`,
      merged(base, {
        code: 'upstream_error',
        status: 502,
        errorClass: 'server_error',
      }),
    );
  }
  if (status === 409) {
    return new UpstreamError(
      message,
      merged(base, {
        code: 'upstream_error',
        status: 409,
        errorClass: 'conflict',
      }),
    );
  }
  // A bad request is the client's to fix: it sees the upstream's own message and code.
  return new UpstreamError(
    message,
    merged(base, {
      code: 'invalid_request',
      status: status >= 400 && status < 500 ? status : 400,
      errorClass: 'invalid_request',
      retryable: false,
      failover: false,
      ...(code ? { clientCode: code } : {}),
    }),
  );
}

/** An `{"error":...}` object found inside a 200 stream. */
export function streamError(data: string, provider: string): GatewayError {
  const parsed = safeJson(data) as OpenAIErrorBody | undefined;
  const message = parsed?.error?.message ?? 'Upstream stream failed';
  return new UpstreamError(message, {
    provider,
    code: 'upstream_error',
    status: 502,
    errorClass: 'server_error',
  });
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
