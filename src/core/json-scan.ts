/**
 * Reading two members of a JSON object without building it: the non-streaming fast path forwards
 * an OpenAI-family answer's bytes as they came and needs only its `usage` (to meter, and to add
 * `usage.cost` in place) and whether it has a `choices` array (to refuse what is not a chat
 * completion, as the full parse did). Strings are skipped with `indexOf`, so the scan costs
 * little more than finding the quotes of a long message.
 */

/** Where a top-level member's value lies in the text: `text.slice(start, end)`. */
export interface ValueSpan {
  start: number;
  end: number;
}

/** What {@link scanCompletion} found in a chat completion's text. */
export interface CompletionScan {
  /** The top-level `usage` value's span, when the member is present. */
  usage: ValueSpan | undefined;
  /** True when the top-level `choices` member is an array. */
  choices: boolean;
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const LITERAL = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)$/;

/**
 * Walks the top level of a JSON object and notes where `usage` is and whether `choices` is an
 * array. Returns undefined when the text is not one well-delimited JSON object (cut short,
 * unbalanced, trailing bytes, a bare value): the caller then parses it fully, which reports
 * the error. Nested values are delimited, not validated token by token.
 */
export function scanCompletion(text: string): CompletionScan | undefined {
  let index = skipSpace(text, 0);
  if (text.charCodeAt(index) !== OPEN_BRACE) return undefined;
  index = skipSpace(text, index + 1);
  let usage: ValueSpan | undefined;
  let choices = false;
  if (text.charCodeAt(index) === CLOSE_BRACE)
    return skipSpace(text, index + 1) === text.length ? { usage, choices } : undefined;
  for (;;) {
    if (text.charCodeAt(index) !== QUOTE) return undefined;
    const keyEnd = stringEnd(text, index);
    if (keyEnd < 0) return undefined;
    const key = text.slice(index + 1, keyEnd - 1);
    index = skipSpace(text, keyEnd);
    if (text.charCodeAt(index) !== COLON) return undefined;
    const start = skipSpace(text, index + 1);
    const end = valueEnd(text, start);
    if (end < 0) return undefined;
    // A repeated member counts as JSON.parse counts it: the last one wins.
    if (key === 'usage') usage = { start, end };
    else if (key === 'choices') choices = text.charCodeAt(start) === OPEN_BRACKET;
    index = skipSpace(text, end);
    const next = text.charCodeAt(index);
    if (next === COMMA) index = skipSpace(text, index + 1);
    else if (next === CLOSE_BRACE)
      return skipSpace(text, index + 1) === text.length ? { usage, choices } : undefined;
    else return undefined;
  }
}

function skipSpace(text: string, from: number): number {
  let index = from;
  for (;;) {
    const code = text.charCodeAt(index);
    if (code !== SPACE && code !== LF && code !== CR && code !== TAB) return index;
    index += 1;
  }
}

/** Index just past the string that opens at `start` (a quote), or -1 when it never closes. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return -1;
    let backslashes = 0;
    for (let at = quote - 1; text.charCodeAt(at) === BACKSLASH; at--) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Index just past the value that starts at `start`, or -1 when it is cut or unbalanced. */
function valueEnd(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) return stringEnd(text, start);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    const closers: number[] = [];
    let index = start;
    while (index < text.length) {
      const code = text.charCodeAt(index);
      if (code === QUOTE) {
        index = stringEnd(text, index);
        if (index < 0) return -1;
        continue;
      }
      if (code === OPEN_BRACE) closers.push(CLOSE_BRACE);
      else if (code === OPEN_BRACKET) closers.push(CLOSE_BRACKET);
      else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
        if (closers.pop() !== code) return -1;
        if (closers.length === 0) return index + 1;
      }
      index += 1;
    }
    return -1;
  }
  let index = start;
  for (;;) {
    const code = text.charCodeAt(index);
    if (
      Number.isNaN(code) ||
      code === COMMA ||
      code === CLOSE_BRACE ||
      code === CLOSE_BRACKET ||
      code === SPACE ||
      code === LF ||
      code === CR ||
      code === TAB
    )
      break;
    index += 1;
  }
  return LITERAL.test(text.slice(start, index)) ? index : -1;
}
