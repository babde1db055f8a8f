/**
 * Stable error codes. The router acts on `ErrorClass`; clients see `code` in the error body.
 * See ../shared/protocols/error-classification.md.
 */
export type ErrorCode =
  | 'invalid_json'
  | 'invalid_request'
  | 'unsupported_parameter'
  | 'body_too_large'
  | 'headers_too_large'
  | 'request_timeout'
  | 'json_too_deep'
  | 'client_closed_request'
  | 'model_not_found'
  | 'not_found'
  | 'method_not_allowed'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'budget_exceeded'
  | 'context_length_exceeded'
  | 'content_filter'
  | 'upstream_auth'
  | 'upstream_not_found'
  | 'quota_exhausted'
  | 'upstream_rate_limited'
  | 'upstream_overloaded'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'upstream_unreachable'
  | 'upstream_bad_response'
  | 'no_deployment_available'
  /** No partner agreement in force covers the model for this API kind and region (403). */
  | 'no_agreement'
  /** The tenant is pinned to regions where no deployment of the model may serve (403). */
  | 'no_deployment_in_region'
  | 'tool_call_interrupted'
  /** The store (database) cannot answer now: 503 with retry-after, never a 500. */
  | 'store_unavailable'
  /** This process is at `server.maxConnections`: 503 with retry-after on the refused connection. */
  | 'server_overloaded'
  | 'internal_error';

/** What kind of failure this is, for retry and failover decisions. */
export type ErrorClass =
  | 'invalid_request'
  | 'context_overflow'
  | 'content_policy'
  | 'auth'
  | 'not_found'
  | 'quota_exhausted'
  | 'rate_limited'
  | 'overloaded'
  | 'server_error'
  | 'timeout'
  | 'conflict'
  | 'connection'
  | 'bad_response'
  /** The client went away before the answer was complete: neither the deployment's fault nor retryable. */
  | 'client_closed'
  | 'internal';

/** OpenAI error `type` for each HTTP status family. */
export function openAIErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  // A payment condition (a hard budget spent), as OpenAI types quota and billing refusals.
  if (status === 402) return 'insufficient_quota';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
