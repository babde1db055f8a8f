import type { ChatCompletionChunk, ChatUsage } from '../core/chat.js';
import { scaledToDecimal } from '../core/money.js';
import type { StreamItem } from '../providers/index.js';
import { merged } from '../core/objects.js';

/**
 * The cost a caller is shown: exactly what the ledger booked as revenue for the request
 * (µUSD, rated half-even once per request by billing/rating.ts), as decimal USD.
 */

/** Response header carrying the booked cost, decimal USD (`0.000123`). */
export const COST_HEADER = 'x-switchyard-cost';

/** Decimal USD of a µUSD amount: `123n` → `"0.000123"`. */
export function costDecimal(micros: bigint): string {
  return scaledToDecimal(micros, 6);
}

/**
 * The booked revenue of a usage sink's answer: the posted revenue, 0 when the row was recorded
 * without a ledger transaction (no tokens, no price), undefined when nothing is known (a replay,
 * a conflict, a failed write), so no figure is shown that the ledger does not hold.
 */
export function bookedCost(outcome: unknown): bigint | undefined {
  if (!outcome || typeof outcome !== 'object') return undefined;
  const { status, revenue } = outcome as { status?: unknown; revenue?: unknown };
  if (status === 'posted' && typeof revenue === 'bigint') return revenue;
  if (status === 'recorded') return 0n;
  return undefined;
}

/**
 * `usage.cost` as OpenRouter answers it: a JSON number of USD. The decimal has at most six
 * places, so the number's shortest form prints the same digits.
 */
export function usageWithCost<T extends ChatUsage>(usage: T, micros: bigint): T {
  // A subtype's own fields stay; `cost` is the one ChatUsage declares.
  return merged(usage, { cost: Number(costDecimal(micros)) }) as unknown as T;
}

/** The final usage item with `usage.cost` added (its raw text rewritten for passthrough). */
export function withCost(item: StreamItem, micros: bigint): StreamItem {
  const chunk = item.chunk();
  if (!chunk.usage) return item;
  const next: ChatCompletionChunk = merged(chunk, { usage: usageWithCost(chunk.usage, micros) });
  return {
    chunk: () => next,
    ...(item.raw !== undefined && { raw: JSON.stringify(next) }),
    ...(item.usageOnly && { usageOnly: true }),
  };
}
