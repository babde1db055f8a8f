import { merged } from '../core/objects.js';
import { type Skip, skippedHeader } from '../router/licence-scope.js';
import { COST_HEADER, costDecimal } from './cost.js';

/** Header naming the deployments routing left out of a request, and why. */
export const SKIPPED_HEADER = 'x-switchyard-skipped';

/** Admission headers plus the booked cost (a new object: admissions may share theirs). */
export const withCostHeader = (headers: Record<string, string>, cost: bigint | undefined) =>
  cost === undefined ? headers : merged(headers, { [COST_HEADER]: costDecimal(cost) });

/** Adds the skipped header to an answer's headers (a new object: admissions may share theirs). */
export const withSkipped = (headers: Record<string, string>, skipped: Skip[]) => {
  const value = skippedHeader(skipped);
  return value === undefined ? headers : merged(headers, { [SKIPPED_HEADER]: value });
};
