import { noteFailure } from '../../server/respond.js';
import type { ServerResponse } from 'node:http';
import { errorHeaders, type GatewayError } from '../../errors/index.js';
import { ERROR_TYPE_SUFFIX } from '../../providers/bedrock/types.js';
import { merged } from '../../core/objects.js';

/**
 * Gateway errors in Bedrock's restJson1 shape: `{"message"}` + `x-amzn-errortype`, with the
 * status the AWS SDK expects for each modeled exception (../shared/specs/bedrock-runtime.json),
 * so its retry logic sees throttling and unavailability as such (error-classification.md §3).
 */

/** A Bedrock exception: HTTP status, exception name, and the event-stream member name. */
export interface BedrockException {
  status: number;
  type: string;
  /** `:exception-type` when the error happens mid-stream. */
  streamType: string;
}

/** A SigV4 or API-key failure, already named the way AWS names it. */
export class BedrockAuthError extends Error {
  constructor(
    readonly type:
      | 'UnrecognizedClientException'
      | 'InvalidSignatureException'
      | 'IncompleteSignatureException'
      | 'MissingAuthenticationTokenException',
    message: string,
  ) {
    super(message);
  }
}

/** Which Bedrock exception a GatewayError becomes. */
export function bedrockExceptionOf(error: GatewayError): BedrockException {
  const code = error.code;
  if (code === 'rate_limited' || code === 'upstream_rate_limited')
    return { status: 429, type: 'ThrottlingException', streamType: 'throttlingException' };
  if (code === 'quota_exhausted' || code === 'budget_exceeded') {
    return {
      status: 400,
      type: 'ServiceQuotaExceededException',
      streamType: 'validationException',
    };
  }
  if (code === 'model_not_found' || code === 'not_found')
    return { status: 404, type: 'ResourceNotFoundException', streamType: 'validationException' };
  if (error.status === 401 || error.status === 403)
    return { status: 403, type: 'AccessDeniedException', streamType: 'validationException' };
  if (code === 'upstream_timeout' || error.status === 504 || error.status === 408) {
    return { status: 408, type: 'ModelTimeoutException', streamType: 'modelStreamErrorException' };
  }
  if (
    error.status === 503 ||
    error.status === 529 ||
    code === 'upstream_overloaded' ||
    code === 'no_deployment_available'
  ) {
    return {
      status: 503,
      type: 'ServiceUnavailableException',
      streamType: 'serviceUnavailableException',
    };
  }
  if (error.status === 429)
    return { status: 429, type: 'ThrottlingException', streamType: 'throttlingException' };
  if (error.status >= 500) {
    const upstream = code.startsWith('upstream_');
    return {
      status: upstream ? 424 : 500,
      type: upstream ? 'ModelErrorException' : 'InternalServerException',
      streamType: upstream ? 'modelStreamErrorException' : 'internalServerException',
    };
  }
  if (error.status === 409)
    return { status: 400, type: 'ConflictException', streamType: 'validationException' };
  return { status: 400, type: 'ValidationException', streamType: 'validationException' };
}

/** Writes a Bedrock error answer (or drops the connection if the answer has begun). */
export function sendBedrockError(
  response: ServerResponse,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const text = JSON.stringify({ message });
  response.writeHead(
    status,
    merged(headers, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      'x-amzn-errortype': `${type}${ERROR_TYPE_SUFFIX}`,
    }),
  );
  response.end(text);
}

/** Writes a GatewayError in Bedrock's shape, with retry hints. */
export function sendGatewayErrorAsBedrock(
  response: ServerResponse,
  error: GatewayError,
  headers: Record<string, string> = {},
): void {
  noteFailure(response, error);
  const exception = bedrockExceptionOf(error);
  sendBedrockError(
    response,
    exception.status,
    exception.type,
    error.message,
    merged(errorHeaders(error), headers),
  );
}
