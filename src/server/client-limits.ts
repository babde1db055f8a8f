import type {
  IncomingMessage,
  Server as Http1Server,
  ServerOptions,
  ServerResponse,
} from 'node:http';
import { constants, type Http2ServerRequest, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { errorHeaders, GatewayError, renderOpenAIError } from '../errors/index.js';

/**
 * What a client may hold of the server: how long it may take to send headers and body, how long
 * an idle connection stays, how big the headers may be, how many connections at once
 * (`server.*` in the config). One slow or silent client must not keep a socket forever.
 */
export interface ClientLimits {
  headersTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  maxConnections: number;
}

/** node:http options that enforce the limits on HTTP/1.1. */
export function http1Options(limits: ClientLimits): ServerOptions {
  return {
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    // The whole request has no deadline (uploads may be long); the body has an idle timeout.
    requestTimeout: 0,
    maxHeaderSize: limits.maxHeaderBytes,
    // How often node:http looks for connections past their header deadline.
    connectionsCheckingInterval: checkInterval(limits),
  };
}

/**
 * Starts node:http's header-deadline check on a server that never listens itself. The check
 * (and `headersTimeout` with it) starts on the server's 'listening' event; sockets reach this
 * server through emit('connection') from the port-sharing net server, so without this the
 * timeout never ran and a client sending one byte a second held its connection forever.
 * http1.close() stops the check.
 */
export function startHeaderDeadlines(http1: Http1Server): void {
  http1.emit('listening');
}

/** The check interval: a tenth of the header timeout, between 50 ms and 1 s. */
function checkInterval(limits: ClientLimits): number {
  return Math.min(1_000, Math.max(50, Math.floor(limits.headersTimeoutMs / 10)));
}

/** Answers node:http parse errors in the OpenAI error shape instead of an empty 400. */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  const response = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || response?.headersSent || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, reason, gatewayError] = describe(error);
  const body = JSON.stringify(renderOpenAIError(gatewayError));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function describe(error: Error & { code?: string }): [number, string, GatewayError] {
  if (error.code === 'HPE_HEADER_OVERFLOW')
    return [431, 'Request Header Fields Too Large', headersTooLarge()];
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return [408, 'Request Timeout', requestTimeout('Request headers were not received in time')];
  return [
    400,
    'Bad Request',
    new GatewayError('Malformed HTTP request', {
      code: 'invalid_request',
      status: 400,
      retryable: false,
      failover: false,
    }),
  ];
}

function requestTimeout(message: string): GatewayError {
  return new GatewayError(message, {
    code: 'request_timeout',
    status: 408,
    errorClass: 'invalid_request',
    retryable: false,
    failover: false,
  });
}

/**
 * Closes a request whose body goes quiet for longer than the idle timeout. HTTP/2: the stream's
 * own idle timeout. HTTP/1.1: the socket's byte count, sampled four times per timeout (the
 * socket's own timeout would also fire while a complete request waits for its answer, and
 * node:http then destroys the socket), by one timer for all the requests whose body is still
 * coming ({@link BodyWatch}). Stops once the body has arrived whole; call {@link releaseBody}
 * once it is read or the answer is over.
 */
export function guardBody(request: IncomingMessage, limits: ClientLimits): void {
  if (request.complete) return;
  const idleMs = limits.bodyIdleTimeoutMs;
  if (request.httpVersionMajor >= 2) {
    // The reader (readBody) fails with 408, which the handler answers when it still can.
    const stall = () => request.destroy(requestTimeout('Request body stalled'));
    const stream = (request as unknown as Http2ServerRequest).stream;
    // The client's half of the stream stays open after the answer: reset it (NO_ERROR, as
    // RFC 9113 §8.1 allows once the response is complete) so the client stops and the stream ends.
    const reset = () => {
      if (!stream.destroyed) stream.close(constants.NGHTTP2_NO_ERROR);
    };
    request.setTimeout(idleMs, () => {
      if (request.complete) return;
      stall();
      // The compat response emits no 'finish' while the request side is open; the stream does.
      if (stream.writableFinished) reset();
      else stream.once('finish', reset);
    });
    request.once('end', () => request.setTimeout(0));
    return;
  }
  let watch = bodyWatches.get(idleMs);
  if (!watch) bodyWatches.set(idleMs, (watch = new BodyWatch(idleMs)));
  watch.add(request);
}

/** Stops watching `request`'s body (read whole, or the answer is over). */
export function releaseBody(request: IncomingMessage): void {
  // One watch per idle limit: in practice one.
  for (const watch of bodyWatches.values()) watch.release(request);
}

/** HTTP/1.1 request bodies being watched now, over every idle limit (tests: none left behind). */
export function bodiesWatched(): number {
  let count = 0;
  for (const watch of bodyWatches.values()) count += watch.size;
  return count;
}

const bodyWatches = new Map<number, BodyWatch>();

interface Watched {
  socket: Socket;
  seen: number;
  quietSince: number;
}

/**
 * The HTTP/1.1 bodies still coming under one idle limit, sampled by one interval timer that
 * runs only while there are any. A timer, its closure and a `close` listener per request cost
 * about 2 µs of every POST (bench/profile-pair.ts: timer list inserts and removals).
 */
class BodyWatch {
  readonly #watched = new Map<IncomingMessage, Watched>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly idleMs: number) {}

  add(request: IncomingMessage): void {
    const socket = request.socket;
    this.#watched.set(request, { socket, seen: socket.bytesRead, quietSince: Date.now() });
    if (!this.#timer) {
      this.#timer = setInterval(() => this.sweep(), Math.max(10, Math.floor(this.idleMs / 4)));
      this.#timer.unref();
    }
  }

  release(request: IncomingMessage): void {
    this.#watched.delete(request);
  }

  get size(): number {
    return this.#watched.size;
  }

  sweep(): void {
    const now = Date.now();
    for (const [request, entry] of this.#watched) {
      const socket = entry.socket;
      if (request.complete || request.destroyed || socket.destroyed) {
        this.#watched.delete(request);
      } else if (socket.bytesRead !== entry.seen) {
        entry.seen = socket.bytesRead;
        entry.quietSince = now;
      } else if (now - entry.quietSince >= this.idleMs) {
        this.#watched.delete(request);
        // The reader (readBody) fails with 408, which the handler answers when it still can.
        request.destroy(requestTimeout('Request body stalled'));
      }
    }
    if (this.#watched.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** Header and idle deadlines of one HTTP/2 session (node:http2 has only an activity timeout). */
export function guardSession(session: ServerHttp2Session, limits: ClientLimits): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number) => {
    clearTimeout(timer);
    // A session with no stream in flight must send its next HEADERS within the deadline; a
    // client trickling a frame byte by byte is cut at the same time.
    timer = setTimeout(() => session.destroy(), ms);
    timer.unref();
  };
  arm(limits.headersTimeoutMs);
  session.on('stream', (stream) => {
    open++;
    clearTimeout(timer);
    stream.once('close', () => {
      open--;
      if (open === 0 && !session.destroyed) arm(limits.keepAliveTimeoutMs);
    });
  });
  session.once('close', () => clearTimeout(timer));
  session.on('error', () => session.destroy());
}

/**
 * HTTP/2 header lists over the limit (RFC 9113 size: name + value + 32 per field). nghttp2
 * enforces SETTINGS_MAX_HEADER_LIST_SIZE only once the client has acknowledged the settings,
 * so a request sent with the connection preface reaches the handler and is refused here (431).
 */
export function http2HeadersTooLarge(request: IncomingMessage, limits: ClientLimits): boolean {
  if (request.httpVersionMajor < 2) return false;
  let size = 0;
  const raw = request.rawHeaders;
  for (let i = 0; i < raw.length; i++) size += raw[i]!.length + (i % 2 === 0 ? 32 : 0);
  return size > limits.maxHeaderBytes;
}

/** The 431 answer (HTTP/1.1 builds it in answerClientError, HTTP/2 in the handler). */
export function headersTooLarge(): GatewayError {
  return new GatewayError('Request headers are too large', {
    code: 'headers_too_large',
    status: 431,
    retryable: false,
    failover: false,
  });
}

/** HTTP/2 settings that enforce the header size limit. */
export function http2Settings(limits: ClientLimits) {
  return { maxHeaderListSize: limits.maxHeaderBytes };
}

/**
 * The header deadline of a connection's first request, counted from the connection: closes
 * connections not handed to a protocol parser in time (silent, or sending the HTTP/2 preface
 * byte by byte). Once a connection is HTTP/1.1, `http1()` keeps the same deadline running until
 * its first request's headers are in (`headersDone()`), answering 408 when it passes, so the
 * time spent telling the protocols apart (a `P` could start `POST` or `PRI`) is not granted on
 * top of node:http's own header timeout (which takes over for later requests). Returns
 * `cancel` (HTTP/2 hands over to the session's own deadlines), `http1` and `headersDone`.
 */
export function firstBytesDeadline(
  socket: Socket,
  limits: ClientLimits,
): { cancel(): void; http1(): void; headersDone(): void } {
  let expire: () => void = () => socket.destroy();
  const timer = setTimeout(() => expire(), limits.headersTimeoutMs);
  timer.unref();
  const cancel = () => clearTimeout(timer);
  socket.once('close', cancel);
  return {
    cancel,
    http1() {
      expire = () => {
        const timeout = Object.assign(new Error('Request headers timeout'), {
          code: 'ERR_HTTP_REQUEST_TIMEOUT',
        });
        answerClientError(timeout, socket);
      };
    },
    headersDone: cancel,
  };
}

/**
 * The answer to a request on a connection over `server.maxConnections`: 503 `server_overloaded`
 * in the OpenAI error shape with `retry-after`, then the connection (HTTP/1.1) or session (h2c,
 * a graceful GOAWAY) is closed. A retry opens a new connection, which a load balancer may send
 * to another replica. Not counted or logged as a request (a flood would flood the log).
 */
export function answerOverloaded(request: IncomingMessage, response: ServerResponse): void {
  const error = new GatewayError('Too many connections to this server; retry shortly', {
    code: 'server_overloaded',
    status: 503,
    errorClass: 'overloaded',
    retryAfterMs: 1_000,
  });
  if (request.httpVersionMajor >= 2) {
    const session = (request as unknown as Http2ServerRequest).stream.session;
    response.once('finish', () => session?.close());
  } else response.setHeader('connection', 'close');
  const body = JSON.stringify(renderOpenAIError(error));
  response.writeHead(503, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...errorHeaders(error),
  });
  response.end(body);
}

/**
 * How long a connection over the cap may take to send the request that gets the 503: the header
 * timeout, at most 5 s. It is closed then whatever it did.
 */
export function refuseDeadline(socket: Socket, limits: ClientLimits): void {
  const timer = setTimeout(() => socket.destroy(), Math.min(limits.headersTimeoutMs, 5_000));
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** Logs refused connections at most once a second (a flood must not flood the log too). */
export function dropLogger(logger: Logger, limits: ClientLimits): () => void {
  let dropped = 0;
  let last = 0;
  return () => {
    dropped++;
    const now = Date.now();
    if (now - last < 1_000) return;
    last = now;
    logger.warn(
      { dropped, maxConnections: limits.maxConnections },
      'connections over server.maxConnections refused (503 server_overloaded)',
    );
    dropped = 0;
  };
}
