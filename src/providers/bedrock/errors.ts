import { type GatewayError, UpstreamError } from '../../errors/index.js';
import { first } from '../../transport/retry-after.js';
import type { UpstreamErrorResponse, UpstreamFrame } from '../adapter.js';
import { merged } from '../../core/objects.js';

/**
 * Bedrock error classification (../shared/protocols/bedrock.md §7,
 * ../shared/protocols/error-classification.md). The error name comes from `x-amzn-errortype`
 * (cut at `:` and `#`, as smithy's `loadRestJsonErrorCode` does), else body `code` / `__type`.
 * Bedrock sends no retry-after: the router backs off on its own.
 */

const CONTEXT_OVERFLOW =
  /input is too long|too many (input )?tokens|prompt is too long|context (window|length)|exceeds? the (maximum|context)/i;
const AUTH_ERRORS = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
]);

/** The bare exception name from a header or body value (`ThrottlingException:http://…` → `ThrottlingException`). */
export function errorName(raw: string | undefined): string {
  if (!raw) return '';
  const hash = raw.lastIndexOf('#');
  const name = hash === -1 ? raw : raw.slice(hash + 1);
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}

/** Classifies a non-2xx Bedrock answer. */
export function classifyBedrockError(
  response: UpstreamErrorResponse,
  provider: string,
): GatewayError {
  const body = safeJson(response.body) as
    | { message?: unknown; Message?: unknown; code?: unknown; __type?: unknown }
    | undefined;
  const name =
    errorName(first(response.headers['x-amzn-errortype'])) ||
    errorName(typeof body?.code === 'string' ? body.code : undefined) ||
    errorName(typeof body?.__type === 'string' ? body.__type : undefined);
  const message = String(body?.message ?? body?.Message ?? `Upstream answered ${response.status}`);
  return classify(name, message, response.status, {
    provider,
    upstreamStatus: response.status,
    upstreamBody: response.body.slice(0, 2048),
  });
}

/**
 * An `exception` or `error` frame found inside a ConverseStream after HTTP 200.
 * `:exception-type` is the union member name (`throttlingException`): its PascalCase form is
 * the exception name.
 */
export function streamFrameError(frame: UpstreamFrame, provider: string): GatewayError {
  const body = safeJson(frame.data) as
    | { message?: unknown; originalStatusCode?: unknown }
    | undefined;
  const raw = frame.event ?? 'InternalServerException';
  const name = raw.charAt(0).toUpperCase() + raw.slice(1);
  const message = String(
    body?.message ?? frame.headers?.[':error-message'] ?? 'Upstream stream failed',
  );
  return classify(name, message, 200, { provider, upstreamBody: frame.data.slice(0, 2048) });
}

type Base = { provider: string; upstreamStatus?: number; upstreamBody: string };

function classify(name: string, message: string, status: number, base: Base): GatewayError {
  const who = base.provider;
  switch (name) {
    case 'ThrottlingException':
      return new UpstreamError(
        `Deployment ${who} is throttled: ${message}`,
        merged(base, {
          code: 'upstream_rate_limited',
          status: 429,
          errorClass: 'rate_limited',
        }),
      );
    case 'ModelNotReadyException':
    case 'ServiceUnavailableException':
      return new UpstreamError(
        `Upstream ${who} is unavailable: ${message}`,
        merged(base, {
          code: 'upstream_overloaded',
          status: 503,
          errorClass: 'overloaded',
        }),
      );
    case 'ServiceQuotaExceededException':
      return new UpstreamError(
        `Deployment ${who} has exceeded its service quota: ${message}`,
        merged(base, {
          code: 'quota_exhausted',
          status: 429,
          errorClass: 'quota_exhausted',
          retryable: false,
          failover: true,
        }),
      );
    case 'ResourceNotFoundException':
      return new UpstreamError(
        `Upstream ${who} does not know this model: ${message}`,
        merged(base, {
          code: 'upstream_not_found',
          status: 502,
          errorClass: 'not_found',
          retryable: false,
          failover: true,
        }),
      );
    case 'ModelTimeoutException':
      return new UpstreamError(
        `Upstream ${who} timed out: ${message}`,
        merged(base, {
          code: 'upstream_timeout',
          status: 504,
          errorClass: 'timeout',
        }),
      );
    case 'ModelErrorException':
    case 'ModelStreamErrorException':
    case 'InternalServerException':
      return new UpstreamError(
        `Upstream ${who} failed: ${message}`,
        merged(base, {
          code: 'upstream_error',
          status: 502,
          errorClass: 'server_error',
        }),
      );
    case 'ConflictException':
      return new UpstreamError(
        message,
        merged(base, {
          code: 'upstream_error',
          status: 409,
          errorClass: 'conflict',
        }),
      );
    case 'ValidationException':
      return validation(message, base);
  }
  if (AUTH_ERRORS.has(name) || status === 401 || status === 403) {
    // Our credentials or model access are at fault, not the client. Don't echo upstream text.
    return new UpstreamError(
      `Upstream ${who} rejected Switchyard's credentials or model access (${name || status})`,
      merged(base, {
        code: 'upstream_auth',
        status: 502,
        errorClass: 'auth',
        retryable: false,
        failover: true,
      }),
    );
  }
  if (status === 429)
    return new UpstreamError(
      `Deployment ${who} is rate limited`,
      merged(base, {
        code: 'upstream_rate_limited',
        status: 429,
        errorClass: 'rate_limited',
      }),
    );
  if (status === 404) return classify('ResourceNotFoundException', message, status, base);
  if (status === 408) return classify('ModelTimeoutException', message, status, base);
  if (status === 503) return classify('ServiceUnavailableException', message, status, base);
  if (status >= 500 || status === 200)
    return classify('InternalServerException', message, status, base);
  return validation(message, base);
}

function validation(message: string, base: Base): GatewayError {
  if (CONTEXT_OVERFLOW.test(message)) {
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
  return new UpstreamError(
    message,
    merged(base, {
      code: 'invalid_request',
      status: 400,
      errorClass: 'invalid_request',
      retryable: false,
      failover: false,
    }),
  );
}

/** Parses JSON, or undefined. */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
