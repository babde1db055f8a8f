import type { ChatCompletion, ChatUsage } from '../core/chat.js';
import { scanCompletion, type ValueSpan } from '../core/json-scan.js';
import type { Deployment } from './catalog.js';

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
  return new Forwarded(text, parse, usage, scan.usage);
}

/**
 * {@link ForwardedCompletion} as a class: an object literal with `get completion()` would make a
 * hidden class of its own per answer, in V8's old space, keeping the answer's text and closures
 * alive through young-generation GCs (see server/context.ts).
 */
class Forwarded implements ForwardedCompletion {
  #completion: ChatCompletion | undefined;

  constructor(
    private readonly text: string,
    private readonly parse: (json: unknown) => ChatCompletion,
    readonly usage: ChatUsage | null | undefined,
    readonly usageSpan: ValueSpan | undefined,
  ) {}

  get completion(): ChatCompletion {
    this.#completion ??= this.parse(JSON.parse(this.text));
    return this.#completion;
  }
}

/** A successful non-streaming execution whose bytes are forwarded: its completion parsed on first read. */
export class ForwardedExecution {
  readonly kind = 'json';
  readonly usage: ChatUsage | null | undefined;
  readonly usageSpan: ValueSpan | undefined;

  constructor(
    readonly deployment: Deployment,
    private readonly forwarded: ForwardedCompletion,
    readonly rawBody: string,
  ) {
    this.usage = forwarded.usage;
    this.usageSpan = forwarded.usageSpan;
  }

  get completion(): ChatCompletion {
    return this.forwarded.completion;
  }
}
