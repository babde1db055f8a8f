import { RuntimeError } from '../../errors.js';
import type { ResponseObject } from '../../types.js';

/**
 * Why a run stops before its end: `cancel` (it ends cancelled), `lost` (another owner holds
 * the lease now) or `handover` (this process is shutting down: the run stops at its next
 * checkpoint, its lease is released and another replica resumes it from there).
 */
export type StopReason = 'cancel' | 'lost' | 'handover';

/** Thrown inside a run that must stop now: cancelled, its lease lost, or handed over at shutdown. */
export class RunStopped extends Error {
  constructor(readonly reason: StopReason) {
    super(reason === 'cancel' ? 'cancelled' : reason === 'lost' ? 'lease lost' : 'handed over');
  }
}

/**
 * The error for an MCP server whose tool list cannot be read (unreachable, refused by the SSRF
 * policy, not MCP): OpenAI answers it with HTTP 424 `external_connector_error` before any
 * output, so a whole (non-background, non-streamed) request does the same (agent/service.ts).
 */
export function mcpListError(message: string): RuntimeError {
  return new RuntimeError(message, {
    status: 424,
    param: 'tools',
    apiType: 'external_connector_error',
    apiCode: 'http_error',
    code: 'upstream_bad_response',
  });
}

/**
 * The 424 a run that could not list an MCP server's tools answers with instead of a response:
 * it failed, and its output holds nothing but listings, the last one failed. Undefined for any
 * other outcome.
 */
export function listingFailure(response: ResponseObject | undefined): RuntimeError | undefined {
  const listing = response?.output.at(-1);
  if (
    response?.status === 'failed' &&
    response.output.every((item) => item.type === 'mcp_list_tools') &&
    typeof listing?.['error'] === 'string'
  )
    return mcpListError(listing['error']);
  return undefined;
}
