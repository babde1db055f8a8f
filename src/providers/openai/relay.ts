import type { ChatCompletionChunk } from '../../core/chat.js';
import { GatewayError } from '../../errors/index.js';
import { parseBlock } from '../../transport/sse.js';
import type { StreamItem } from '../adapter.js';
import {
  DONE,
  EMPTY_CHOICES,
  FINISHED,
  type PassthroughState,
  passthroughEnded,
  passthroughEvent,
  RawItem,
  SKIP,
} from './stream.js';

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
  const state: PassthroughState = { finished: false, usage: false };
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
        dataObject(source, at) &&
        !errorObject(source, at + 6)
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
      // Anything else (the end, an error, a cut-short event, `choices: []`, multi-line data, an
      // `event:` field) goes through the passthrough's own handling of one event.
      const frame = parseBlock(source.toString('utf8', at, end));
      at = next;
      if (!frame) continue;
      let outcome: ReturnType<typeof passthroughEvent>;
      try {
        outcome = passthroughEvent(frame, provider, state);
      } catch (error) {
        // A bad event fails the stream, after the good events before it (as event by event).
        failure = error as GatewayError;
        break;
      }
      if (outcome === DONE) {
        done = true;
        break;
      }
      if (outcome === SKIP) continue;
      if (outcome.usageOnly) {
        held = outcome;
        continue;
      }
      // Valid but not in the one-line form: re-framed, as the passthrough's surface would.
      if (runStart !== -1) out.push(source.subarray(runStart, runEnd));
      runStart = -1;
      out.push(Buffer.from(`data: ${outcome.raw}\n\n`));
    }
    if (runStart !== -1) out.push(source.subarray(runStart, runEnd));
    // Whether the answer finished matters only to a stream that ends without [DONE]: a read
    // that holds the [DONE] (a burst's only read) is not searched for it, a scan of every byte.
    if (!done && !state.finished && FINISHED.test(text)) state.finished = true;
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
  // A last event without its blank line, as the SSE decoder's tail.
  const tail = carry?.toString('utf8');
  const frame = tail?.trim() ? parseBlock(tail) : undefined;
  if (frame) {
    const outcome = passthroughEvent(frame, provider, state);
    if (outcome === DONE) return;
    if (outcome !== SKIP)
      yield outcome.usageOnly
        ? outcome
        : new FramedItem(Buffer.from(`data: ${outcome.raw}\n\n`), provider);
  }
  passthroughEnded(state, provider);
}

const DATA_OBJECT = Buffer.from('data: {', 'latin1');
const ERROR_OBJECT = Buffer.from('{"error"', 'latin1');

/**
 * `text.startsWith('data: {', at)`, read from the bytes (the text is their latin1 view): seven
 * byte comparisons the compiler inlines, where the string method was a call per event.
 */
function dataObject(source: Buffer, at: number): boolean {
  for (let index = 0; index < 7; index++)
    if (source[at + index] !== DATA_OBJECT[index]) return false;
  return true;
}

/** `text.startsWith('{"error"', at)`, read from the bytes (usually settled by the third one). */
function errorObject(source: Buffer, at: number): boolean {
  for (let index = 0; index < 8; index++)
    if (source[at + index] !== ERROR_OBJECT[index]) return false;
  return true;
}

/**
 * Where the next `"choices": []` starts at or after `from`, or -1: what {@link EMPTY_CHOICES}
 * finds, without running it over the whole read. That regex tried a match at every `"` of the
 * read, so its cost followed the chunks' shape (5.5 to 20 µs for a 40 KB burst here); `indexOf`
 * looks for the brackets' three spellings (`[]`, `[ `, `[\t`: a line break cannot be inside a
 * one-line event, and `\r` is normalised away), about 6 µs for the three whatever the shape,
 * and each find is checked around for the rest of the pattern. Only an array opened by some
 * other white space (`\v`, `\f`, U+00A0, which JSON does not allow) is not looked at; such an
 * event is forwarded as it came, as any other malformed chunk on this path.
 */
function nextEmpty(text: string, from: number): number {
  let tight = text.indexOf('[]', from);
  let spaced = text.indexOf('[ ', from);
  let tabbed = text.indexOf('[\t', from);
  for (;;) {
    let open = tight;
    if (spaced !== -1 && (open === -1 || spaced < open)) open = spaced;
    if (tabbed !== -1 && (open === -1 || tabbed < open)) open = tabbed;
    if (open === -1) return -1;
    const key = emptyChoicesAt(text, open);
    if (key !== -1) return key;
    if (open === tight) tight = text.indexOf('[]', open + 1);
    else if (open === spaced) spaced = text.indexOf('[ ', open + 1);
    else tabbed = text.indexOf('[\t', open + 1);
  }
}

const CHOICES_KEY = '"choices"';
const CLOSE_BRACKET = 93; // ]
const COLON = 58; // :

/**
 * Where `"choices"` starts when the array opened at `open` is empty and is that key's value
 * (white space as `\s` allows it around the colon and inside the brackets), else -1.
 */
function emptyChoicesAt(text: string, open: number): number {
  let after = open + 1;
  while (isSpace(text.charCodeAt(after))) after++;
  if (text.charCodeAt(after) !== CLOSE_BRACKET) return -1;
  let before = open - 1;
  while (isSpace(text.charCodeAt(before))) before--;
  if (text.charCodeAt(before) !== COLON) return -1;
  before--;
  while (isSpace(text.charCodeAt(before))) before--;
  const start = before - CHOICES_KEY.length + 1;
  return start >= 0 && text.startsWith(CHOICES_KEY, start) ? start : -1;
}

/** `\s` within a latin1 view: tab to carriage return, space, and U+00A0. */
function isSpace(code: number): boolean {
  return (code >= 9 && code <= 13) || code === 32 || code === 160;
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
