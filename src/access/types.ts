import type { ChatRequest, EmbeddingsRequest } from '../core/chat.js';
import type { Usage } from '../core/usage.js';
import type { Principal } from '../gateway/types.js';
import type { Budget, Level, Limits } from './policy.js';

/** What a request asks for, as access sees it before the call. */
export interface AdmissionRequest {
  requestId: string;
  principal: Principal;
  /** Logical model name. */
  model: string;
  /** The client body (chat or embeddings), for token estimates. */
  body: ChatRequest | EmbeddingsRequest;
  operation: 'chat' | 'embeddings';
  now: number;
  /**
   * The end user for per-user budgets when the surface knows it apart from the body (the
   * Responses API's `safety_identifier`); else the body's `user` / `safety_identifier`.
   */
  endUser?: string | undefined;
}

/**
 * A request let in: limits counted and budget reserved. Exactly one of `settle` (with the real
 * usage, or undefined when the call failed) must be called when the request ends.
 */
export interface Admission {
  /** Headers to send with the answer (x-ratelimit-*, x-switchyard-budget-max-tokens). */
  headers: Record<string, string>;
  /**
   * Set when a hard budget could not cover the request's worst case (it set no max): the output
   * limit, per choice, that the budget's remainder can buy. The gateway sends it upstream as
   * `max_completion_tokens`.
   */
  maxOutputTokens?: number;
  settle(usage: Usage | undefined): Promise<void>;
}

/** Budget state of one level in its current period. */
export interface LevelStatus {
  kind: Level['kind'];
  id: string;
  name: string;
  limits: Limits;
  budget: Budget | null;
  spend: {
    periodStart: number;
    periodEnd: number;
    spentMicros: bigint;
    reservedMicros: bigint;
    remainingMicros: bigint | null;
  } | null;
}
