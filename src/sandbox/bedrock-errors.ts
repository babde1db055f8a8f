/**
 * Bedrock's restJson1 error answers for the sandbox Bedrock emulator
 * (../shared/protocols/bedrock.md): status, `x-amzn-errortype` and `{"message"}`.
 */

/** What Bedrock appends to the `x-amzn-errortype` name. */
export const ERROR_SUFFIX = ':http://internal.amazon.com/coral/com.amazon.bedrock/';

/** A Bedrock restJson1 error: status, `x-amzn-errortype` name and `{"message"}`. */
export class BedrockHttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** A 400 `ValidationException`, as Bedrock answers a malformed request. */
export const validation = (message: string) =>
  new BedrockHttpError(400, 'ValidationException', message);
