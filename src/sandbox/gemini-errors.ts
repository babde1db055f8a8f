/**
 * Google's error answers for the sandbox Gemini/Vertex emulator:
 * `{"error":{"code","message","status","details"}}`, including the 429 RESOURCE_EXHAUSTED body.
 */

/** A Google API error: HTTP code, `status` name, message and `details`. */
export class GoogleHttpError extends Error {
  constructor(
    readonly code: number,
    readonly status: string,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
  }
}

/** A 400 `INVALID_ARGUMENT`, as Gemini answers a malformed request. */
export const invalid = (message: string) => new GoogleHttpError(400, 'INVALID_ARGUMENT', message);

/** The 429 `RESOURCE_EXHAUSTED` answer of each flavour, with its quota failure and retry delay. */
export function rateLimited(
  flavor: 'gemini' | 'vertex',
  model: string,
  limit: { retryDelay: string; perDay?: boolean },
): GoogleHttpError {
  const quotaId = `GenerateRequestsPer${limit.perDay ? 'Day' : 'Minute'}PerProjectPerModel-FreeTier`;
  const message =
    flavor === 'vertex'
      ? 'Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.'
      : `You exceeded your current quota, please check your plan and billing details.\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10, model: ${model}\nPlease retry in ${limit.retryDelay}.`;
  return new GoogleHttpError(429, 'RESOURCE_EXHAUSTED', message, [
    {
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [
        {
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
          quotaId,
        },
      ],
    },
    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: limit.retryDelay },
  ]);
}
