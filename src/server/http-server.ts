import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttp2Server, type Http2ServerRequest } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { timeOrderedId } from '../core/ids.js';
import { clientClosed, GatewayError, toGatewayError, UpstreamError } from '../errors/index.js';
import type { HttpObserver } from '../telemetry/observer.js';
import { plainLogger } from '../telemetry/logger.js';
import { createClientAddress } from './client-address.js';
import {
  answerClientError,
  answerOverloaded,
  type ClientLimits,
  dropLogger,
  firstBytesDeadline,
  guardBody,
  releaseBody,
  guardSession,
  headersTooLarge,
  http1Options,
  http2HeadersTooLarge,
  http2Settings,
  refuseDeadline,
  startHeaderDeadlines,
} from './client-limits.js';
import { tooDeepAt } from './json-depth.js';
import { failureOf, sendOpenAIError } from './respond.js';
import { plainPathname } from '../core/plain-path.js';
import { createRouteTable } from './router.js';
import { RequestContext } from './context.js';
import type { Route } from './types.js';
import { ClientAbort } from '../transport/abort.js';
import { readAll } from '../transport/read-all.js';
import { merged } from '../core/objects.js';
import { GatewayResponse } from './response.js';

export interface HttpServerOptions {
  routes: Route[];
  logger: Logger;
  /** Largest request body, bytes. */
  maxBodyBytes: number;
  /** How long close() waits for in-flight requests, ms. */
  drainTimeoutMs: number;
  /** Deepest nesting of a JSON body; deeper → 400 json_too_deep before it is parsed. */
  maxJsonDepth?: number;
  /** Header/body/idle deadlines, header size and connection cap (defaults: the config's). */
  limits?: Partial<ClientLimits>;
  /** Telemetry: trace context per request; its trace id goes on the request's log line. */
  observer?: HttpObserver;
  /** Proxies whose X-Forwarded-For is believed (`server.trustProxy`). Default none. */
  trustProxy?: readonly string[];
}

/** The listening server. */
export interface HttpServer {
  listen(port: number, host: string): Promise<{ url: string; port: number }>;
  /** Stops accepting, waits for in-flight requests (streams included) up to the drain timeout, then closes. */
  close(): Promise<void>;
  inFlight(): number;
}

const H2_PREFACE = 'PRI * HTTP/2.0';

/**
 * HTTP/1.1 and HTTP/2 cleartext (prior knowledge, as the AWS SDK's HTTP/2 handler speaks it) on
 * one port: the first bytes of each connection decide which parser gets the socket.
 */
export function createHttpServer1And2(options: HttpServerOptions): HttpServer {
  const table = createRouteTable(options.routes);
  const clientAddress = createClientAddress(options.trustProxy ?? []);
  const logInfo = options.logger.isLevelEnabled('info');
  // The request line's fields are ours and hold no secret: no redaction walk per request.
  const requestLog = plainLogger(options.logger);
  let active = 0;
  let draining = false;
  const sockets = new Set<Socket>();
  // Connections over server.maxConnections: answered 503 and closed (answerOverloaded).
  const refusing = new Set<Socket>();
  const refusingSessions = new WeakSet<object>();
  // HTTP/1.1 connections whose first request's headers are awaited (see firstBytesDeadline).
  const firstHeaders = new WeakMap<object, () => void>();
  let nextSessionRefused = false;
  const idle = new Set<() => void>();
  const limits: ClientLimits = merged(DEFAULT_LIMITS, options.limits);
  const maxJsonDepth = options.maxJsonDepth ?? DEFAULT_JSON_DEPTH;
  const readRequestBody = (request: IncomingMessage) =>
    readBody(request, options.maxBodyBytes, maxJsonDepth);

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    if (request.httpVersionMajor < 2) {
      const done = firstHeaders.get(request.socket);
      if (done !== undefined) {
        done();
        firstHeaders.delete(request.socket);
      }
    }
    if (refusing.size > 0 && isRefused(request)) return void answerOverloaded(request, response);
    active += 1;
    const started = performance.now();
    const requestId = timeOrderedId('req_');
    // HTTP/1.1 answers carry it with their headers (./response.ts); HTTP/2 ones set it now.
    if (response instanceof GatewayResponse) response.carryRequestId(requestId);
    else response.setHeader('x-request-id', requestId);
    const observed = options.observer?.requestStart(request, requestId);
    if (draining) response.setHeader('connection', 'close');
    guardBody(request, limits);
    const client = new ClientAbort();
    response.once('close', () => {
      releaseBody(request);
      if (!response.writableFinished) client.abort(clientClosed());
      active -= 1;
      observed?.end(response.statusCode);
      // Every 5xx is logged with its cause: none should come from client input.
      if (response.statusCode >= 500) {
        const failure = failureOf(response);
        // Message and code only: an upstream's body may echo a key, so it is never logged; the
        // cause (with its stack) is logged for the gateway's own failures.
        const upstream = failure instanceof UpstreamError ? failure : undefined;
        options.logger.error(
          {
            requestId,
            status: response.statusCode,
            code: failure?.code,
            error: failure?.message,
            upstreamStatus: upstream?.upstreamStatus,
            provider: upstream?.provider,
            err:
              upstream === undefined && failure?.cause instanceof Error ? failure.cause : undefined,
          },
          failure?.code === 'internal_error' ? 'unhandled error' : 'server error answered',
        );
      }
      // The line's fields are built only when it will be written (production often runs at warn).
      if (logInfo)
        requestLog.info(
          {
            requestId,
            traceId: observed?.traceId,
            method: request.method,
            path: pathOf(request.url),
            status: response.statusCode,
            ms: Math.round((performance.now() - started) * 100) / 100,
            aborted: client.aborted || undefined,
            ...observed?.logFields?.(),
          },
          'request',
        );
      if (active === 0) for (const resolve of idle) resolve();
    });
    void dispatch(request, response, requestId, client);
  };

  const dispatch = async (
    request: IncomingMessage,
    response: ServerResponse,
    requestId: string,
    client: ClientAbort,
  ) => {
    if (http2HeadersTooLarge(request, limits)) {
      sendOpenAIError(response, headersTooLarge());
      return;
    }
    const target = request.url ?? '/';
    // A plain target is routed on its path as it stands; the URL is built when a handler asks.
    let pathname = plainPathname(target);
    let url: URL | undefined;
    if (pathname === undefined) {
      try {
        url = new URL(target, 'http://localhost');
      } catch {
        sendOpenAIError(
          response,
          new GatewayError('Malformed request URL', { code: 'invalid_request', status: 400 }),
        );
        return;
      }
      pathname = url.pathname;
    }
    const matched = table.match(request.method ?? 'GET', pathname);
    if (!matched) {
      sendOpenAIError(
        response,
        new GatewayError(`Unknown path ${pathname}`, {
          code: 'not_found',
          status: 404,
          errorClass: 'not_found',
          retryable: false,
        }),
      );
      return;
    }
    if ('allowed' in matched) {
      response.setHeader('allow', matched.allowed.join(', '));
      sendOpenAIError(
        response,
        new GatewayError(`Method ${request.method} not allowed on ${pathname}`, {
          code: 'method_not_allowed',
          status: 405,
          retryable: false,
        }),
      );
      return;
    }
    const context = new RequestContext(
      request,
      response,
      requestId,
      target,
      url,
      matched.params,
      client,
      clientAddress(request.socket?.remoteAddress, request.headers),
      readRequestBody,
    );
    try {
      await matched.handler(context);
    } catch (thrown) {
      // Logged (with its cause) when the answer closes, as every 5xx is.
      sendOpenAIError(response, toGatewayError(thrown));
    }
  };

  const http1 = createHttpServer(
    merged(http1Options(limits), { ServerResponse: GatewayResponse }),
    handle,
  );
  const http2 = createHttp2Server({ settings: http2Settings(limits) }, handle as never);
  http1.on('clientError', answerClientError);
  startHeaderDeadlines(http1);
  http2.on('session', (session) => {
    // 'session' is emitted inside http2.emit('connection'), so the flag names this session.
    if (nextSessionRefused) refusingSessions.add(session);
    guardSession(session, limits);
  });
  const isRefused = (request: IncomingMessage) =>
    request.httpVersionMajor >= 2
      ? refusingSessions.has((request as unknown as Http2ServerRequest).stream.session!)
      : refusing.has(request.socket);
  const dropped = dropLogger(options.logger, limits);

  // noDelay: node:http sets TCP_NODELAY only on sockets its own listener accepts, and these come
  // from this net server. Without it, Nagle holds each SSE event until the previous segment is
  // ACKed (up to the peer's ~40 ms delayed ACK): time to first token +40 ms, events bunched.
  const net = createNetServer({ noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    const over = sockets.size >= limits.maxConnections;
    if (over) {
      dropped();
      // Answered 503 once its request is read, then closed; a flood beyond that is cut at once.
      if (refusing.size >= Math.min(limits.maxConnections, MAX_REFUSING)) return socket.destroy();
      refusing.add(socket);
      socket.once('close', () => refusing.delete(socket));
      refuseDeadline(socket, limits);
    } else {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    const deadline = firstBytesDeadline(socket, limits);
    let head: Buffer = Buffer.alloc(0);
    const route = () => {
      for (let piece = socket.read() as Buffer | null; piece !== null; piece = socket.read())
        head = head.length === 0 ? piece : Buffer.concat([head, piece]);
      const text = head.toString('latin1', 0, H2_PREFACE.length);
      // Nothing yet, or a preface arriving in pieces: wait for more (the deadline still runs).
      if (text.length < H2_PREFACE.length && H2_PREFACE.startsWith(text))
        return void socket.once('readable', route);
      socket.unshift(head);
      if (text !== H2_PREFACE) {
        deadline.http1();
        firstHeaders.set(socket, deadline.headersDone);
        return void http1.emit('connection', socket);
      }
      deadline.cancel();
      nextSessionRefused = over;
      try {
        http2.emit('connection', socket);
      } finally {
        nextSessionRefused = false;
      }
    };
    socket.once('readable', route);
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        net.once('error', reject);
        net.listen(port, host, () => {
          net.off('error', reject);
          const address = net.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve({ url: `http://${shownHost}:${address.port}`, port: address.port });
        });
      });
    },
    async close() {
      draining = true;
      const closed = new Promise<void>((resolve) => net.close(() => resolve()));
      http1.closeIdleConnections();
      if (active > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.drainTimeoutMs);
          idle.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      for (const socket of sockets) socket.destroy();
      for (const socket of refusing) socket.destroy();
      http1.close(); // stops the header-deadline check
      await closed;
    },
    inFlight: () => active,
  };
}

const DEFAULT_LIMITS: ClientLimits = {
  headersTimeoutMs: 30_000,
  bodyIdleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
  maxHeaderBytes: 16_384,
  maxConnections: 10_000,
};
const DEFAULT_JSON_DEPTH = 128;
/** Most connections over the cap being answered 503 at once (more are closed unanswered). */
const MAX_REFUSING = 1024;

/**
 * Reads the whole body, refusing more than `limit` bytes with 413 and, when it is JSON (starts
 * with `{` or `[`), nesting deeper than `maxDepth` with 400 json_too_deep naming the field.
 */
export async function readBody(
  request: IncomingMessage,
  limit: number,
  maxDepth = DEFAULT_JSON_DEPTH,
): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    request.resume();
    throw tooLarge(limit);
  }
  let read: Awaited<ReturnType<typeof readAll>>;
  try {
    read = await readAll(request, limit);
  } finally {
    // Read whole or failed: the body's idle watch is over either way.
    releaseBody(request);
  }
  const { body, over } = read;
  if (over) {
    request.resume();
    throw tooLarge(limit);
  }
  if (looksLikeJson(body)) {
    const at = tooDeepAt(body, maxDepth);
    if (at !== undefined)
      throw new GatewayError(`JSON nested deeper than ${maxDepth} levels at \`${at}\``, {
        code: 'json_too_deep',
        status: 400,
        param: at,
        errorClass: 'invalid_request',
        retryable: false,
        failover: false,
      });
  }
  return body;
}

function looksLikeJson(body: Buffer): boolean {
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    return byte === 0x7b || byte === 0x5b;
  }
  return false;
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError(`Request body is larger than ${limit} bytes`, {
    code: 'body_too_large',
    status: 413,
    retryable: false,
    failover: false,
  });
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
