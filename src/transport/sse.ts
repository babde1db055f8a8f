import type { UpstreamFrame } from '../providers/adapter.js';

/**
 * Decodes a Server-Sent Events byte stream into frames. Scans a carried string buffer with
 * indexOf (no repeated split), handles CRLF, multi-line `data:` and partial UTF-8 across chunks.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export async function* decodeSse(
  body: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<UpstreamFrame> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const piece of body) {
    buffer += typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true });
    if (buffer.includes('\r')) buffer = buffer.replace(/\r\n?/g, '\n');
    let end = buffer.indexOf('\n\n');
    while (end !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const frame = parseBlock(block);
      if (frame) yield frame;
      end = buffer.indexOf('\n\n');
    }
  }
  buffer += decoder.decode();
  const tail = buffer.trim() ? parseBlock(buffer) : undefined;
  if (tail) yield tail;
}

/** Fields of one SSE event block (its lines, without the blank line that ends it). */
export function parseBlock(block: string): UpstreamFrame | undefined {
  // Fast path: a single `data: ...` line, the shape of nearly every OpenAI event.
  if (block.startsWith('data: ') && block.indexOf('\n') === -1) return { data: block.slice(6) };
  let event: string | undefined;
  let data: string | undefined;
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    else if (field === 'event') event = value;
  }
  if (data === undefined) return undefined;
  return event === undefined ? { data } : { event, data };
}

/** Encodes one SSE event. */
export function encodeSse(data: string, event?: string): string {
  return event === undefined ? `data: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`;
}
