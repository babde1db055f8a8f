import { RuntimeError } from '../../errors.js';

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
