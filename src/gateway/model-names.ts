import { GatewayError } from '../errors/index.js';
import type { Principal } from './types.js';

/** The request's `model`, which must be a non-empty string (400 `invalid_request` if not). */
export function requireModelName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new GatewayError('`model` is required', {
      code: 'invalid_request',
      status: 400,
      param: 'model',
      retryable: false,
      failover: false,
    });
  }
  return value;
}

/** The request's `models` fallback list, when given: 1 to 10 model names. */
export function modelList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.length > 10 ||
    !value.every((item) => typeof item === 'string' && item.length > 0)
  ) {
    throw new GatewayError('`models` must be a list of 1 to 10 model names', {
      code: 'invalid_request',
      status: 400,
      param: 'models',
      retryable: false,
      failover: false,
    });
  }
  return value as string[];
}

/** Whether the principal's `allowedModels` patterns (a trailing `*` is a prefix) admit `model`. */
export function allowed(principal: Principal, model: string): boolean {
  const patterns = principal.allowedModels;
  if (!patterns) return true;
  return patterns.some((pattern) =>
    pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : pattern === model,
  );
}
