import type { ChatCompletionChunk } from '../../core/chat.js';
import { GatewayError } from '../../errors/index.js';
import type { StreamItem } from '../adapter.js';
import { streamError } from './errors.js';
import { RawItem, badEvent, passthroughEnded, wholeObject } from './stream.js';

const EMPTY_CHOICES = /"choices"\s*:\s*\[\s*\]/g;
const USAGE = /"usage"\s*:\s*\{/;
const FINISHED = /"finish_reason"\s*:\s*"/;
const NL = 10;
const CLOSE = 125; // }

/**
 * The OpenAI chat stream relayed to an OpenAI chat client: the same checks as
 * {@link passthroughStream} (an error event or a cut-short event fails the stream, Azure's
 * filter-only chunks are dropped, the usage chunk is held for the meter, the end needs [DONE] or
 * a finished answer with its usage), but one item per upstream READ instead of one per event.
 * The events of a read that are forwarded unchanged leave as the upstream's own bytes
 * (`framed`, sub-arrays of the read, no decoding and no re-encoding); only the usage chunk is
 * parsed. Per event the work is a few byte comparisons on a latin1 view of the read (UTF-8
 * continuation bytes are ≥ 0x80, so they never match the ASCII the checks look for).
 *
 * Before, a 200-event burst went through five async-generator steps per event (SSE decoder,
 * passthrough, executor, meter, surface) and was decoded to strings and encoded back.
 *
 * `ended()` says whether the upstream body already holds its end: after [DONE] the rest is read
 * when it is (the body finishes by itself: no destroy, no AbortError with its stack trace, and
 * the connection goes back to the pool), else the relay stops at once, as the passthrough does.
 */
export async function* relaySse(
  reads: AsyncIterable<Uint8Array>,
  provider: string,
  ended: () => boolean = () => false,
): AsyncGenerator<StreamItem> {
  let carry: Buffer | undefined;
  let finished = false;
  let usage = false;
  for await (const read of reads) {
    const bytes: Buffer = carry
      ? Buffer.concat([carry, read])
      : Buffer.isBuffer(read)
        ? read
        : Buffer.from(read.buffer, read.byteOffset, read.byteLength);
    carry = undefined;
    let text = bytes.toString('latin1');
    let source = bytes;
    if (text.includes('\r')) {
      // CRLF framing (rare): normalise, and forward the normalised bytes.
      text = text.replace(/\r\n?/g, '\n');
      source = Buffer.from(text, 'latin1');
    }
    if (!finished && FINISHED.test(text)) finished = true;
    // Events with `choices: []` (the usage chunk, Azure's filter-only chunks) are rare: find
    // them once per read instead of testing every event.
    let empty = nextEmpty(text, 0);
    const out: Buffer[] = [];
    let runStart = -1;
    let runEnd = -1;
    let held: StreamItem | undefined;
    let done = false;
    let failure: GatewayError | undefined;
    let at = 0;
    for (;;) {
      // One scan per event: its first line break, then its blank line (at once for the usual
      // one-line event).
      const lineBreak = text.indexOf('\n', at);
      if (lineBreak === -1) break;
      const oneLine = source[lineBreak + 1] === NL;
      const end = oneLine ? lineBreak : text.indexOf('\n\n', lineBreak);
      if (end === -1) break;
      const next = end + 2;
      while (empty !== -1 && empty < at) empty = nextEmpty(text, at);
      const emptyChoices = empty !== -1 && empty < end;
      // The usual event: one `data: {…}` line, forwarded as its bytes.
      if (
        oneLine &&
        !emptyChoices &&
        source[end - 1] === CLOSE &&
        text.startsWith('data: {', at) &&
        !text.startsWith('{"error"', at + 6)
      ) {
        if (runStart === -1) runStart = at;
        else if (runEnd !== at) {
          out.push(source.subarray(runStart, runEnd));
          runStart = at;
        }
        runEnd = next;
        at = next;
        continue;
      }
      const frame = parseBlock(text, at, end, source);
      at = next;
      if (!frame) continue;
      const data = frame.data;
      if (data === '[DONE]') {
        done = true;
        break;
      }
      // A bad event fails the stream, after the good events before it (as event by event).
      if (data.startsWith('{"error"') || frame.event === 'error') {
        failure = streamError(data, provider);
        break;
      }
      if (!wholeObject(data)) {
        failure = badEvent(provider);
        break;
      }
      if (emptyChoices) {
        if (!USAGE.test(data)) continue; // filter-only chunk: no delta
        usage = true;
        const item = new RawItem(data, provider);
        item.chunk();
        item.usageOnly = true;
        held = item;
        continue;
      }
      // Valid but not in the one-line form (multi-line data, an `event:` field): re-framed.
      if (runStart !== -1) out.push(source.subarray(runStart, runEnd));
      runStart = -1;
      out.push(Buffer.from(`data: ${data}\n\n`));
    }
    if (runStart !== -1) out.push(source.subarray(runStart, runEnd));
    if (!done && at < source.length) carry = Buffer.from(source.subarray(at));
    if (out.length > 0)
      yield new FramedItem(out.length === 1 ? out[0]! : Buffer.concat(out), provider);
    if (held) yield held;
    if (failure) throw failure;
    if (done) {
      if (!ended()) return;
      // The end is already buffered: read it, so the body finishes by itself.
      try {
        for await (const _ of reads) void _;
      } catch {
        // The answer is complete; how the body closed changes nothing.
      }
      return;
    }
  }
  const tail = carry?.toString('latin1').trim();
  if (tail) {
    const frame = parseBlock(tail, 0, tail.length, Buffer.from(tail, 'latin1'));
    if (frame?.data === '[DONE]') return;
    if (frame) {
      // A last event without its blank line: handled like the passthrough's tail.
      if (frame.data.startsWith('{"error"') || frame.event === 'error')
        throw streamError(frame.data, provider);
      if (!wholeObject(frame.data)) throw badEvent(provider);
      if (FINISHED.test(frame.data)) finished = true;
      if (/"choices"\s*:\s*\[\s*\]/.test(frame.data) && USAGE.test(frame.data)) {
        usage = true;
        const item = new RawItem(frame.data, provider);
        item.chunk();
        item.usageOnly = true;
        yield item;
      } else yield new FramedItem(Buffer.from(`data: ${frame.data}\n\n`), provider);
    }
  }
  passthroughEnded(finished, usage, provider);
}

function nextEmpty(text: string, from: number): number {
  EMPTY_CHOICES.lastIndex = from;
  const match = EMPTY_CHOICES.exec(text);
  return match ? match.index : -1;
}

/**
 * Fields of one SSE event block `text[start, end)` (https://html.spec.whatwg.org/#event-stream-interpretation).
 * `data` is decoded from UTF-8 (`text` is a latin1 view of `source`).
 */
function parseBlock(
  text: string,
  start: number,
  end: number,
  source: Buffer,
): { event?: string; data: string } | undefined {
  let event: string | undefined;
  let data: string | undefined;
  let at = start;
  while (at < end) {
    let lineEnd = text.indexOf('\n', at);
    if (lineEnd === -1 || lineEnd > end) lineEnd = end;
    if (lineEnd > at && source[at] !== 58 /* : comment */) {
      const colon = text.indexOf(':', at);
      const hasValue = colon !== -1 && colon < lineEnd;
      const field = text.slice(at, hasValue ? colon : lineEnd);
      let valueStart = hasValue ? colon + 1 : lineEnd;
      if (source[valueStart] === 32 && valueStart < lineEnd) valueStart += 1;
      const value = source.toString('utf8', valueStart, lineEnd);
      if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
      else if (field === 'event') event = value;
    }
    at = lineEnd + 1;
  }
  if (data === undefined) return undefined;
  return event === undefined ? { data } : { event, data };
}

/**
 * Events of one upstream read, already framed as SSE (`data: {…}\n\n` each) and forwarded as
 * these bytes. Only the OpenAI chat surface receives these (the executor relays only for it);
 * `chunks()` parses them, for the meter's estimate when a stream ends without its usage.
 */
export class FramedItem implements StreamItem {
  constructor(
    readonly framed: Buffer,
    private readonly provider: string,
  ) {}

  chunk(): ChatCompletionChunk {
    throw new GatewayError('A relayed read holds several events; read them with chunks()', {
      code: 'internal_error',
      status: 500,
    });
  }

  chunks(): ChatCompletionChunk[] {
    const text = this.framed.toString('utf8');
    const chunks: ChatCompletionChunk[] = [];
    for (const block of text.split('\n\n')) {
      if (!block.startsWith('data: ')) continue;
      try {
        chunks.push(new RawItem(block.slice(6), this.provider).chunk());
      } catch {
        // A malformed event counts for nothing in the estimate.
      }
    }
    return chunks;
  }
}
