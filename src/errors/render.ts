import { openAIErrorType } from './codes.js';
import type { GatewayError } from './gateway-error.js';
import { copied } from '../core/objects.js';

/** The OpenAI error body: `{"error":{"message","type","param","code"}}`. */
export function renderOpenAIError(error: GatewayError): {
  error: { message: string; type: string; param: string | null; code: string };
} {
  return {
    error: {
      message: error.message,
      type: openAIErrorType(error.status),
      param: error.param,
      code: error.clientCode ?? error.code,
    },
  };
}

/**
 * Status an OpenAI-protocol client should see. Anthropic's 529 becomes 503 (OpenAI SDKs retry
 * both); everything else keeps its status.
 */
export function openAIStatus(error: GatewayError): number {
  return error.status === 529 ? 503 : error.status;
}

/** Headers to send with an error: retry hints, and `x-should-retry: false` when retrying cannot help. */
export function errorHeaders(error: GatewayError): Record<string, string> {
  const headers: Record<string, string> = copied(error.headers);
  if (error.retryAfterMs !== undefined && headers['retry-after'] === undefined) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
    headers['retry-after-ms'] = String(Math.max(0, Math.round(error.retryAfterMs)));
  }
  if (!error.retryable) headers['x-should-retry'] = 'false';
  return headers;
}
