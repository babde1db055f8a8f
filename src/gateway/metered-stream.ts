import { countTokens, estimateTokens } from '../access/estimate.js';
import type { ChatCompletionChunk, ChatRequest } from '../core/chat.js';
import type { Clock } from '../core/clock.js';
import { type Usage, usageFromOpenAI, ZERO_USAGE } from '../core/usage.js';
import { toGatewayError } from '../errors/index.js';
import type { StreamItem } from '../providers/index.js';
import { type ClientSignal, onAbort } from '../transport/abort.js';
import type { UsageEvent } from '../store/index.js';
import type { RequestScope } from '../telemetry/observer.js';
import { withCost } from './cost.js';
import { merged } from '../core/objects.js';

/** What {@link meteredStream} needs from the gateway for one stream. */
export interface MeteredStream {
  items: AsyncIterable<StreamItem>;
  /** Stops reading the upstream (the executor closes its body). */
  cancel(reason?: unknown): void;
  /** The usage row being filled in; written once, when the stream ends or is given up. */
  event: UsageEvent;
  /** The chat body as routed (for the input estimate when the upstream reports no usage). */
  body: ChatRequest;
  started: number;
  /** The client's signal. */
  signal: ClientSignal;
  /** How long a stream the client left is still read for its usage, ms (0 = stop at once). */
  drainMs: number;
  clock: Clock;
  scope: RequestScope | undefined;
  /** Answer `usage.cost` in the final usage item. */
  includeCost: boolean;
  /** Settles the admission (budget, rate-limit tokens, concurrency slot) with the real usage. */
  settle(usage: Usage | undefined): Promise<void>;
  /** Records the usage row (and its ledger transaction); resolves the booked cost, µUSD, if known. */
  book(event: UsageEvent): Promise<bigint | undefined>;
}

/**
 * Wraps a stream so its usage is recorded exactly once, before the client sees its end. The
 * usage-only item is held back until the row is booked, so it can carry the booked cost.
 *
 * A client that goes away (its signal aborts, or it stops reading) does not end the upstream
 * call: the upstream has already been asked for the whole answer and will charge for it, so the
 * rest is read, for at most `drainMs` from the moment the client left, to get the upstream's own
 * usage. When none can be had (the upstream sent none, broke off, or the drain time ran out), the
 * input and the output seen so far are counted with the tokenizer and the row is marked
 * `estimated`.
 */
export async function* meteredStream(stream: MeteredStream): AsyncGenerator<StreamItem> {
  const { event, started, clock, scope, signal } = stream;
  const iterator = stream.items[Symbol.asyncIterator]();
  const seen: StreamItem[] = [];
  let usage: Usage | undefined;
  let held: StreamItem | undefined;
  let finished = false;
  let failure: unknown;
  let booked: bigint | undefined;
  let done = false;

  // The drain clock starts when the client leaves: at the abort, or when it stops reading.
  let timer: NodeJS.Timeout | undefined;
  const leave = () => {
    if (timer !== undefined || done) return;
    const stop = () => stream.cancel();
    if (stream.drainMs <= 0) stop();
    else timer = setTimeout(stop, stream.drainMs);
  };
  const unlisten = signal.aborted ? undefined : onAbort(signal, leave);
  if (signal.aborted) leave();

  const take = (item: StreamItem): void => {
    if (event.ttfbMs === null) {
      event.ttfbMs = clock() - started;
      scope?.firstToken(event.ttfbMs);
    }
    if (item.usageOnly) {
      usage = usageFromOpenAI(item.chunk().usage) ?? usage;
      held = item;
      return;
    }
    // Passthrough items (raw, framed) never carry usage outside the usage-only item; translated
    // ones are already parsed, so looking costs nothing.
    if (item.raw === undefined && item.framed === undefined) {
      const found = usageFromOpenAI(item.chunk().usage);
      if (found) usage = found;
    }
    seen.push(item);
  };

  const finish = async (): Promise<void> => {
    if (done) return;
    done = true;
    if (timer !== undefined) clearTimeout(timer);
    unlisten?.();
    const real = usage;
    const counted = real ?? estimate(stream.body, seen);
    Object.assign(event, counted);
    if (!real && (counted.inputTokens > 0 || counted.outputTokens > 0)) event.estimated = true;
    event.latencyMs = clock() - started;
    if (!finished) {
      const error = failure === undefined ? undefined : toGatewayError(failure);
      event.status = signal.aborted || failure === undefined ? 'aborted' : 'error';
      event.httpStatus = event.status === 'aborted' ? 499 : 200;
      event.errorCode = error?.code ?? null;
    }
    await stream.settle(counted);
    booked = await stream.book(event);
    scope?.end(event);
  };

  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      take(next.value);
      if (!next.value.usageOnly) yield next.value;
    }
    finished = true;
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    if (!finished) {
      if (failure === undefined) {
        // The consumer stopped reading: the client is gone. Read the rest for its usage.
        leave();
        try {
          for (;;) {
            const next = await iterator.next();
            if (next.done) break;
            take(next.value);
          }
        } catch {
          // Cut by the drain limit or by the upstream: what was seen is booked below.
        }
      }
      await finish();
    }
  }
  await finish();
  if (held) yield stream.includeCost && booked !== undefined ? withCost(held, booked) : held;
}

/** Tokens of the request's input and of the output seen so far, by the o200k tokenizer. */
function estimate(body: ChatRequest, seen: StreamItem[]): Usage {
  let output = 0;
  for (const item of seen) {
    let chunks: ChatCompletionChunk[];
    try {
      chunks = item.chunks ? item.chunks() : [item.chunk()];
    } catch {
      continue;
    }
    for (const choice of chunks.flatMap((chunk) => chunk.choices)) {
      const delta = choice.delta;
      if (!delta) continue;
      if (typeof delta.content === 'string') output += countTokens(delta.content);
      const reasoning = (delta as Record<string, unknown>)['reasoning_content'];
      if (typeof reasoning === 'string') output += countTokens(reasoning);
      for (const call of delta.tool_calls ?? []) {
        if (call.function?.name) output += countTokens(call.function.name);
        if (call.function?.arguments) output += countTokens(call.function.arguments);
      }
    }
  }
  const input = estimateTokens(body, 'chat').inputTokens;
  if (output === 0 && seen.length === 0) return merged(ZERO_USAGE, { inputTokens: input });
  return merged(ZERO_USAGE, { inputTokens: input, outputTokens: output });
}
