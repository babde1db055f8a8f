import { once } from 'node:events';
import { ServerResponse } from 'node:http';
import {
  type GatewayError,
  errorHeaders,
  openAIStatus,
  renderOpenAIError,
} from '../errors/index.js';
import { merged } from '../core/objects.js';

/** Writes a JSON answer (already serialized or an object). */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(
    status,
    merged(headers, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    }),
  );
  response.end(text);
}

const failures = new WeakMap<ServerResponse, GatewayError>();

/**
 * Remembers the error an answer is about to carry, so the server can log every 5xx with its
 * cause once the answer is done (surfaces render errors themselves, in their own shapes).
 */
export function noteFailure(response: ServerResponse, error: GatewayError): void {
  failures.set(response, error);
}

/** The error noted for this answer, if any. */
export function failureOf(response: ServerResponse): GatewayError | undefined {
  return failures.get(response);
}

/** Writes an error in the OpenAI shape, with retry hints. */
export function sendOpenAIError(response: ServerResponse, error: GatewayError): void {
  noteFailure(response, error);
  if (response.headersSent) {
    response.destroy();
    return;
  }
  sendJson(response, openAIStatus(error), renderOpenAIError(error), errorHeaders(error));
}

/**
 * Starts an SSE answer. By default the headers go out at once, so clients see the stream start
 * before the first event. With `flush: false` they leave with the first write instead, in the
 * same segment: for callers that already hold the first event, one socket write (and one wake-up
 * of the client) less before it arrives.
 */
export function startSse(
  response: ServerResponse,
  headers: Record<string, string> = {},
  options: { flush?: boolean } = {},
): void {
  response.writeHead(
    200,
    merged(headers, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    }),
  );
  if (options.flush !== false) response.flushHeaders();
}

/**
 * Writes a piece, waiting for the socket to drain when its buffer is full (backpressure).
 * Throws once the client is gone, on HTTP/1.1 and HTTP/2 alike: an HTTP/2 response has no
 * `destroyed` of its own (its stream has), and waiting for a `close` that was already emitted
 * would hold the answer, and the usage row written at its end, forever.
 */
export async function write(response: ServerResponse, piece: string | Uint8Array): Promise<void> {
  if (gone(response)) throw new Error('client went away');
  if (!response.write(piece)) {
    if (gone(response)) throw new Error('client went away');
    await Promise.race([once(response, 'drain'), once(response, 'close')]);
  }
}

/** A writer that gathers an answer's pieces and sends them as one socket write per tick. */
export interface CoalescingWriter {
  /**
   * Queues a piece; it leaves with the others queued in the same tick. Returns a promise when
   * the socket's buffer was full at the last send (await it: backpressure), else undefined.
   * Throws once the client is gone.
   */
  push(piece: string | Uint8Array): Promise<void> | undefined;
  /** Ends the answer with what is queued plus `last`, in one write. */
  end(last?: string): void;
}

/**
 * Coalesces the pieces of a streamed answer (SSE events) into one `res.write` per upstream read.
 * Everything a surface renders from one upstream read happens in one run of the microtask queue
 * (the decoders and mappers are async generators over the bytes already in hand); the pieces
 * are joined into one string and written from `process.nextTick`, which runs once that queue is
 * empty. Written one by one, each piece was its own chunk of the chunked encoding (three buffers
 * each for `writev`) and its own string to convert: for a 200-event burst, 600 buffers in one
 * `writev`, about a fifth of a stream's CPU. A paced upstream (one event per read) still gets
 * each event out at once, in its own tick.
 */
export function coalescingWriter(response: ServerResponse): CoalescingWriter {
  let pending = '';
  let scheduled = false;
  let blocked: Promise<void> | undefined;
  const watch = () => {
    blocked = Promise.race([once(response, 'drain'), once(response, 'close')]).then(() => {
      blocked = undefined;
    });
  };
  const send = () => {
    scheduled = false;
    if (pending === '' || gone(response)) return;
    const piece = pending;
    pending = '';
    if (!response.write(piece)) watch();
  };
  return {
    push(piece) {
      if (gone(response)) throw new Error('client went away');
      if (typeof piece !== 'string') {
        // Bytes (a relayed read) are already one piece per read: they leave now, after what
        // was queued before them.
        if (pending !== '') send();
        if (!response.write(piece)) watch();
        return blocked;
      }
      pending += piece;
      if (!scheduled) {
        scheduled = true;
        process.nextTick(send);
      }
      return blocked;
    },
    end(last = '') {
      const piece = pending + last;
      pending = '';
      if (gone(response)) return;
      response.end(piece);
    },
  };
}

/** True when the client can no longer be written to. */
function gone(response: ServerResponse): boolean {
  if (response.destroyed) return true;
  const stream = (response as { stream?: { destroyed?: boolean } }).stream;
  return stream?.destroyed === true;
}

/**
 * Sends what was written so far now. node:http corks the socket on a response's first write in
 * a tick and uncorks it on the next tick; when the rest of the answer is already buffered, the
 * code that runs before that tick (the remaining events, then the usage commit at the stream's
 * end, all in microtasks) would hold the first event back. HTTP/1.1 only: HTTP/2 responses
 * have no socket of their own.
 */
export function flush(response: ServerResponse): void {
  if (!(response instanceof ServerResponse)) return;
  const socket = response.socket;
  while (socket && socket.writableCorked > 0) socket.uncork();
}
