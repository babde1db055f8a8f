/** Path segments kept for the error's `param` (the rest is elided): enough to name the field. */
const PATH_SEGMENTS = 6;

const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * Finds where a JSON text nests deeper than `maxDepth` objects and arrays, without parsing it:
 * one pass over the bytes, skipping strings. Deeply nested input is refused here, before
 * JSON.parse and the recursive code after it (schema converters, serialisers) can overflow the
 * stack. Returns the path of the first too-deep value (`tools[0].function.parameters…`), or
 * undefined when the text is within the limit. Malformed JSON is not judged here: JSON.parse
 * reports it after.
 */
export function tooDeepAt(bytes: Uint8Array, maxDepth: number): string | undefined {
  // Per open container: true for an object. For the first levels, an object's current key as
  // its offsets in `bytes` (decoded only for the error), an array's current index.
  const kinds: boolean[] = [];
  const keys: number[] = [];
  const keyEnds: number[] = [];
  let depth = 0;
  let expectKey = false;
  let keyStart = -1;
  const length = bytes.length;
  for (let i = 0; i < length; i++) {
    const byte = bytes[i]!;
    if (byte === QUOTE) {
      const start = i + 1;
      i++;
      while (i < length && bytes[i] !== QUOTE) {
        if (bytes[i] === BACKSLASH) i++;
        i++;
      }
      if (expectKey && depth <= PATH_SEGMENTS) keyStart = start;
      if (keyStart !== -1) {
        keys[depth - 1] = keyStart;
        keyEnds[depth - 1] = i;
        keyStart = -1;
      }
      expectKey = false;
      continue;
    }
    if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      depth++;
      if (depth > maxDepth) return pathOf(bytes, keys, keyEnds, kinds, depth - 1);
      const isObject = byte === OPEN_OBJECT;
      kinds[depth - 1] = isObject;
      if (depth <= PATH_SEGMENTS) keys[depth - 1] = isObject ? -1 : 0;
      expectKey = isObject;
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      if (depth > 0) depth--;
      expectKey = false;
    } else if (byte === COMMA) {
      if (depth > 0 && kinds[depth - 1] === true) expectKey = true;
      else if (depth > 0 && depth <= PATH_SEGMENTS) keys[depth - 1] = keys[depth - 1]! + 1;
    } else if (byte === COLON) {
      expectKey = false;
    }
  }
  return undefined;
}

function pathOf(
  bytes: Uint8Array,
  keys: number[],
  keyEnds: number[],
  kinds: boolean[],
  depth: number,
): string {
  let path = '';
  const shown = Math.min(depth, PATH_SEGMENTS);
  for (let level = 0; level < shown; level++) {
    const at = keys[level]!;
    if (kinds[level]) {
      const key =
        at === -1
          ? ''
          : Buffer.from(bytes.buffer, bytes.byteOffset + at, keyEnds[level]! - at).toString('utf8');
      path += path === '' ? key : `.${key}`;
    } else path += `[${at}]`;
  }
  return depth > PATH_SEGMENTS ? `${path}…` : path || '(body)';
}
