import type { ErrorClass, ErrorCode } from './codes.js';
import { isStoreUnavailable, STORE_RETRY_AFTER_MS } from './store.js';

/** Options for a GatewayError. */
export interface GatewayErrorOptions {
  code: ErrorCode;
  status: number;
  /** What kind of failure, for the router. Defaults from the status. */
  errorClass?: ErrorClass;
  /** Whether another attempt (same or other deployment) may succeed. Defaults from the class. */
  retryable?: boolean;
  /** Whether failing over to another deployment makes sense. Defaults to `retryable`, or true for auth/not_found/quota. */
  failover?: boolean;
  /** The request field at fault, if any. */
  param?: string | null;
  /** Delay the server asked for before retrying, in ms. */
  retryAfterMs?: number;
  /** Extra headers to send with the error (for example `retry-after`). */
  headers?: Record<string, string>;
  /** The code to show the client instead of `code` (an upstream's own code for a bad request, e.g. `decimal_above_max_value`). */
  clientCode?: string;
  cause?: unknown;
}

/** Every error Switchyard raises. Thrown in the core, rendered once at the edge. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errorClass: ErrorClass;
  readonly retryable: boolean;
  readonly failover: boolean;
  readonly param: string | null;
  readonly retryAfterMs: number | undefined;
  readonly headers: Record<string, string>;
  readonly clientCode: string | undefined;

  constructor(message: string, options: GatewayErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = options.code;
    this.status = options.status;
    this.errorClass = options.errorClass ?? classFromStatus(options.status);
    this.retryable = options.retryable ?? defaultRetryable(this.errorClass);
    this.failover =
      options.failover ??
      (this.retryable || ['auth', 'not_found', 'quota_exhausted'].includes(this.errorClass));
    this.param = options.param ?? null;
    this.retryAfterMs = options.retryAfterMs;
    this.headers = options.headers ?? {};
    this.clientCode = options.clientCode;
  }
}

/** An error from a cloud, with what it said. */
export class UpstreamError extends GatewayError {
  readonly upstreamStatus: number | undefined;
  readonly upstreamBody: string | undefined;
  readonly provider: string | undefined;

  constructor(
    message: string,
    options: GatewayErrorOptions & {
      upstreamStatus?: number;
      upstreamBody?: string;
      provider?: string;
    },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
    this.upstreamStatus = options.upstreamStatus;
    this.upstreamBody = options.upstreamBody;
    this.provider = options.provider;
  }
}

/** A client-side mistake: 400 with the field at fault. */
export function invalidRequest(
  message: string,
  param: string | null = null,
  code: ErrorCode = 'invalid_request',
): GatewayError {
  return new GatewayError(message, { code, status: 400, param, errorClass: 'invalid_request' });
}

function classFromStatus(status: number): ErrorClass {
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status === 408 || status === 504) return 'timeout';
  if (status === 409) return 'conflict';
  if (status === 429) return 'rate_limited';
  if (status === 503 || status === 529) return 'overloaded';
  if (status >= 500) return 'server_error';
  return 'invalid_request';
}

function defaultRetryable(errorClass: ErrorClass): boolean {
  return [
    'rate_limited',
    'overloaded',
    'server_error',
    'timeout',
    'conflict',
    'connection',
    'bad_response',
  ].includes(errorClass);
}

/**
 * Wraps anything thrown into a GatewayError: a store outage (connection lost, timeout, busy
 * file) becomes 503 `store_unavailable` with retry-after; anything else unknown is 500
 * internal_error.
 */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (isStoreUnavailable(error)) return storeUnavailable(error);
  return new GatewayError('Internal error', {
    code: 'internal_error',
    status: 500,
    errorClass: 'internal',
    cause: error,
  });
}

/** The abort reason of a request whose client went away: not an upstream failure (499). */
export function clientClosed(): GatewayError {
  return new GatewayError('Client closed the request', {
    code: 'client_closed_request',
    status: 499,
    errorClass: 'client_closed',
    retryable: false,
    failover: false,
  });
}

/** The client-facing error for a request that cannot be decided or served without the store. */
export function storeUnavailable(cause?: unknown): GatewayError {
  return new GatewayError('The store is unavailable right now; try again shortly.', {
    code: 'store_unavailable',
    status: 503,
    // Not 'overloaded': Anthropic renders that as 529 overloaded_error, a cloud capacity signal.
    errorClass: 'server_error',
    retryAfterMs: STORE_RETRY_AFTER_MS,
    // Another deployment cannot help: the store is ours, not the cloud's.
    failover: false,
    ...(cause !== undefined && { cause }),
  });
}
