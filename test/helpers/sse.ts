import { request } from 'undici';

/** One SSE event as a client received it. */
export interface ReceivedEvent {
  /** The `event:` field, if any. */
  event?: string;
  /** The joined `data:` lines. */
  data: string;
  /** performance.now() when the event was complete on the client side. */
  at: number;
}

/** A whole SSE answer. */
export interface SseAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  events: ReceivedEvent[];
  /** The `data:` payloads, parsed as JSON (`[DONE]` excluded). */
  chunks: any[];
  /** True when the last event was `data: [DONE]`. */
  done: boolean;
  /** The error the body ended with (premature close), if any. */
  error?: unknown;
  /** performance.now() when the request was sent and when the body ended. */
  sentAt: number;
  endedAt: number;
}

/**
 * Splits an SSE byte stream into events (`\n\n`-separated blocks), timestamping each one as it
 * completes. Body errors end the collection and are returned, not thrown.
 */
export async function collectSse(
  body: AsyncIterable<Uint8Array | string>,
  // biome-ignore lint/suspicious/noConfusingVoidType: callers pass plain callbacks that return nothing
  onEvent?: (event: ReceivedEvent) => void | 'stop',
): Promise<{ events: ReceivedEvent[]; error?: unknown; stopped: boolean }> {
  const decoder = new TextDecoder();
  const events: ReceivedEvent[] = [];
  let buffer = '';
  try {
    for await (const piece of body) {
      buffer += typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true });
      buffer = buffer.replace(/\r\n?/g, '\n');
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseBlock(block);
        if (event) {
          events.push(event);
          if (onEvent?.(event) === 'stop') return { events, stopped: true };
        }
        end = buffer.indexOf('\n\n');
      }
    }
  } catch (error) {
    return { events, error, stopped: false };
  }
  return { events, stopped: false };
}

function parseBlock(block: string): ReceivedEvent | undefined {
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
  return event === undefined
    ? { data, at: performance.now() }
    : { event, data, at: performance.now() };
}

/**
 * POSTs `body` as JSON and collects the SSE answer (or, for a non-2xx answer, no events and
 * the JSON error in `chunks[0]`).
 * @example
 * const answer = await streamRequest(gateway.url + '/v1/chat/completions', { model, messages, stream: true });
 * expect(answer.done).toBe(true);
 */
export async function streamRequest(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  // biome-ignore lint/suspicious/noConfusingVoidType: callers pass plain callbacks that return nothing
  onEvent?: (event: ReceivedEvent) => void | 'stop',
): Promise<SseAnswer> {
  const sentAt = performance.now();
  const response = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const base = {
    status: response.statusCode,
    headers: response.headers as SseAnswer['headers'],
    sentAt,
  };
  if (response.statusCode !== 200) {
    const text = await response.body.text();
    return {
      ...base,
      events: [],
      chunks: [safeParse(text)],
      done: false,
      endedAt: performance.now(),
    };
  }
  const collected = await collectSse(response.body, onEvent);
  if (collected.stopped) response.body.destroy();
  const done = collected.events.at(-1)?.data === '[DONE]';
  const chunks = collected.events
    .filter((event) => event.data !== '[DONE]')
    .map((event) => safeParse(event.data));
  return {
    ...base,
    events: collected.events,
    chunks,
    done,
    error: collected.error,
    endedAt: performance.now(),
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
