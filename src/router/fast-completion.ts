import type { ChatCompletion, ChatUsage } from '../core/chat.js';
import { scanCompletion, type ValueSpan } from '../core/json-scan.js';

/** A non-streaming chat answer whose bytes are forwarded as they came. */
export interface ForwardedCompletion {
  /** The whole answer, parsed (and checked by the adapter) on first access only. */
  readonly completion: ChatCompletion;
  /** The upstream's top-level `usage`, read on its own. */
  usage: ChatUsage | null | undefined;
  /** Where `usage` lies in the text, so `usage.cost` can be added in place. */
  usageSpan: ValueSpan | undefined;
}

/**
 * The fast path's read of an answer: only its `usage` and whether `choices` is an array, not the
 * whole object (no message, choice or tool-call objects built for an answer that is forwarded
 * as bytes). Undefined when the text is not plainly a chat completion: the caller parses it in
 * full, which fails over or reports the error as before.
 */
export function forwardedCompletion(
  text: string,
  parse: (json: unknown) => ChatCompletion,
): ForwardedCompletion | undefined {
  const scan = scanCompletion(text);
  if (!scan?.choices) return undefined;
  let usage: ChatUsage | null | undefined;
  if (scan.usage) {
    try {
      usage = JSON.parse(text.slice(scan.usage.start, scan.usage.end)) as ChatUsage | null;
    } catch {
      return undefined;
    }
  }
  let completion: ChatCompletion | undefined;
  return {
    get completion() {
      completion ??= parse(JSON.parse(text));
      return completion;
    },
    usage,
    usageSpan: scan.usage,
  };
}
