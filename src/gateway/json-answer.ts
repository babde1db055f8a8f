import type { ChatCompletion } from '../core/chat.js';
import type { Usage } from '../core/usage.js';
import type { Execution } from '../router/executor.js';
import { costDecimal, usageWithCost } from './cost.js';
import type { ChatOutcome, RouteMeta } from './types.js';
import { merged } from '../core/objects.js';

type JsonOutcome = Extract<ChatOutcome, { kind: 'json' }>;

/**
 * A JSON chat answer whose completion is parsed only when something reads it (on the fast path
 * nothing does: the surface sends `rawBody`). A class rather than an object literal with a
 * `get completion()`: each evaluation of such a literal makes a hidden class of its own in V8's
 * old space, which keeps the getter's closure, and all it reaches, alive through every
 * young-generation GC until the next full one (see server/context.ts).
 */
export class JsonAnswer implements JsonOutcome {
  readonly kind = 'json';
  #completion: ChatCompletion | undefined;

  constructor(
    private readonly parse: () => ChatCompletion,
    readonly rawBody: string | undefined,
    readonly usage: Usage | undefined,
    readonly meta: RouteMeta,
    readonly headers: Record<string, string>,
    readonly cost: bigint | undefined,
  ) {}

  get completion(): ChatCompletion {
    this.#completion ??= this.parse();
    return this.#completion;
  }
}

/**
 * The JSON answer to send. An OpenAI-family answer is forwarded as the upstream's bytes; with the
 * cost asked for (`shownCost`), `"cost":…` is added inside its `usage` in place (found by the fast
 * path's scan), so the answer still is not parsed and re-serialised. Without that position (a full
 * parse happened, or `usage` already has a `cost`), the completion is rebuilt with the cost and
 * serialised.
 */
export function jsonAnswer(
  execution: Extract<Execution, { kind: 'json' }>,
  openAIFamily: boolean,
  shownCost: bigint | undefined,
  answer: {
    usage: Usage | undefined;
    meta: RouteMeta;
    headers: Record<string, string>;
    cost: bigint | undefined;
  },
): JsonAnswer {
  const { usage, meta, headers, cost } = answer;
  if (shownCost === undefined)
    return new JsonAnswer(
      () => execution.completion,
      openAIFamily ? execution.rawBody : undefined,
      usage,
      meta,
      headers,
      cost,
    );
  const span = execution.usageSpan;
  const upstreamUsage = execution.usage;
  if (
    openAIFamily &&
    span !== undefined &&
    upstreamUsage &&
    typeof upstreamUsage === 'object' &&
    !Object.hasOwn(upstreamUsage, 'cost') &&
    execution.rawBody.charCodeAt(span.end - 1) === 0x7d
  ) {
    const raw = execution.rawBody;
    const separator = Object.keys(upstreamUsage).length > 0 ? ',' : '';
    // The same digits JSON.stringify gives `usageWithCost`'s number.
    const member = `${separator}"cost":${JSON.stringify(Number(costDecimal(shownCost)))}`;
    const rawBody = raw.slice(0, span.end - 1) + member + raw.slice(span.end - 1);
    return new JsonAnswer(
      () => JSON.parse(rawBody) as ChatCompletion,
      rawBody,
      usage,
      meta,
      headers,
      cost,
    );
  }
  const completion = execution.completion;
  const withCost = completion.usage
    ? merged(completion, { usage: usageWithCost(completion.usage, shownCost) })
    : completion;
  return new JsonAnswer(() => withCost, undefined, usage, meta, headers, cost);
}
