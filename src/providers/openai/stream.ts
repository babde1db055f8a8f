import type { ChatCompletionChunk } from '../../core/chat.js';
import { GatewayError } from '../../errors/index.js';
import type { StreamItem, UpstreamFrame } from '../adapter.js';
import { streamError } from './errors.js';

/** `choices: []`: the usage chunk, or one of Azure's filter-only chunks. */
export const EMPTY_CHOICES = /"choices"\s*:\s*\[\s*\]/;
const USAGE = /"usage"\s*:\s*\{/;
/** A non-null `finish_reason`: the answer finished. */
export const FINISHED = /"finish_reason"\s*:\s*"/;

/** What a passthrough stream has seen so far, for {@link passthroughEnded}. */
export interface PassthroughState {
  finished: boolean;
  usage: boolean;
}

/** {@link passthroughEvent}: the stream's `[DONE]`, or an event with nothing to forward. */
export const DONE = 'done';
export const SKIP = 'skip';

/**
 * One event of an OpenAI-shaped stream: `DONE` at `[DONE]`, `SKIP` for a filter-only chunk, else
 * the item to forward (the usage chunk parsed and marked `usageOnly`). Throws on an error event
 * and on an event that cannot be a whole JSON object. Notes in `state` whether the answer
 * finished and its usage came.
 */
export function passthroughEvent(
  frame: UpstreamFrame,
  provider: string,
  state: PassthroughState,
): RawItem | typeof DONE | typeof SKIP {
  const raw = frame.data;
  if (raw === '[DONE]') return DONE;
  if (raw.startsWith('{"error"') || frame.event === 'error') throw streamError(raw, provider);
  // Raw events are forwarded unparsed, so at least refuse what cannot be a whole JSON object:
  // a chunk cut short (the usual corruption) never reaches the client. Before the first byte,
  // the router fails over.
  if (!wholeObject(raw)) throw badEvent(provider);
  const emptyChoices = EMPTY_CHOICES.test(raw);
  const hasUsage = emptyChoices && USAGE.test(raw);
  if (!state.finished && FINISHED.test(raw)) state.finished = true;
  if (hasUsage) state.usage = true;
  // Filter-only chunks carry no delta (Azure's first chunk; OpenAI sends none of these).
  if (emptyChoices && !hasUsage) return SKIP;
  const item = new RawItem(raw, provider);
  if (hasUsage) {
    item.chunk();
    item.usageOnly = true;
  }
  return item;
}

/**
 * Passthrough for OpenAI-shaped streams: every event keeps its original JSON text (`raw`) and
 * is parsed only if a translating surface asks for it. Only the usage chunk is inspected.
 * Azure's filter-only chunks (`choices: []` without usage) are dropped: they carry no delta,
 * and clients that index `choices[0]` crash on them (azure-openai.md, streaming quirk 1).
 */
export async function* passthroughStream(
  frames: AsyncIterable<UpstreamFrame>,
  provider: string,
): AsyncGenerator<StreamItem> {
  const state: PassthroughState = { finished: false, usage: false };
  for await (const frame of frames) {
    const outcome = passthroughEvent(frame, provider, state);
    if (outcome === DONE) return;
    if (outcome !== SKIP) yield outcome;
  }
  passthroughEnded(state, provider);
}

/**
 * A stream that ended without [DONE] is complete only if the answer finished and its usage came
 * (some compatible servers omit [DONE]); otherwise it was cut and must not look complete.
 */
export function passthroughEnded(state: PassthroughState, provider: string): void {
  if (!(state.finished && state.usage))
    throw new GatewayError(`Upstream ${provider} ended its stream before [DONE]`, {
      code: 'upstream_bad_response',
      status: 502,
      errorClass: 'bad_response',
    });
}

/**
 * A forwarded event: its original text, parsed only if a translating surface (or the meter)
 * asks. A class rather than an object with a closure: one allocation per event instead of three.
 */
export class RawItem implements StreamItem {
  usageOnly?: boolean;
  private parsed: ChatCompletionChunk | undefined;
  constructor(
    readonly raw: string,
    private readonly provider: string,
  ) {}

  chunk(): ChatCompletionChunk {
    if (this.parsed) return this.parsed;
    let parsed: ChatCompletionChunk;
    try {
      parsed = JSON.parse(this.raw) as ChatCompletionChunk;
    } catch (error) {
      throw new GatewayError(`Upstream ${this.provider} sent a malformed stream event`, {
        code: 'upstream_bad_response',
        status: 502,
        errorClass: 'bad_response',
        cause: error,
      });
    }
    if (!Array.isArray(parsed.choices)) parsed.choices = [];
    // Azure's asynchronous filter sends choices without a delta.
    for (const choice of parsed.choices) choice.delta ??= {};
    this.parsed = parsed;
    return parsed;
  }
}

/** Starts with `{` and ends with `}` (white space aside): cheap, and catches truncation. */
export function wholeObject(raw: string): boolean {
  const first = raw[0] === '{' ? '{' : raw.trimStart()[0];
  const last = raw[raw.length - 1] === '}' ? '}' : raw.trimEnd().at(-1);
  return first === '{' && last === '}';
}

export function badEvent(provider: string): GatewayError {
  return new GatewayError(`Upstream ${provider} sent a stream event that is not a JSON object`, {
    code: 'upstream_bad_response',
    status: 502,
    errorClass: 'bad_response',
  });
}
