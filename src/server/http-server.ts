import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { timeOrderedId } from '../core/ids.js';
import { GatewayError, toGatewayError } from '../errors/index.js';
import type { HttpObserver } from '../telemetry/observer.js';
import { plainLogger } from '../telemetry/logger.js';
import { createClientAddress } from './client-address.js';
import { sendOpenAIError } from './respond.js';
import { createRouteTable } from './router.js';
import type { HttpContext, Route } from './types.js';

export interface HttpServerOptions {
  routes: Route[];
  logger: Logger;
  /** Largest request body, bytes. */
  maxBodyBytes: number;
  /** How long close() waits for in-flight requests, ms. */
  drainTimeoutMs: number;
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
  const idle = new Set<() => void>();

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    active += 1;
    const started = performance.now();
    const requestId = timeOrderedId('req_');
    response.setHeader('x-request-id', requestId);
    const observed = options.observer?.requestStart(request, requestId);
    if (draining) response.setHeader('connection', 'close');
    const controller = new AbortController();
    response.once('close', () => {
      if (!response.writableFinished)
        controller.abort(
          new GatewayError('Client closed the request', {
            code: 'upstream_timeout',
            status: 499,
            errorClass: 'timeout',
            retryable: false,
            failover: false,
          }),
        );
      active -= 1;
      observed?.end(response.statusCode);
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
            aborted: controller.signal.aborted || undefined,
            ...observed?.logFields?.(),
          },
          'request',
        );
      if (active === 0) for (const resolve of idle) resolve();
    });
    void dispatch(request, response, requestId, controller.signal);
  };

  const dispatch = async (
    request: IncomingMessage,
    response: ServerResponse,
    requestId: string,
    signal: AbortSignal,
  ) => {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      sendOpenAIError(
        response,
        new GatewayError('Malformed request URL', { code: 'invalid_request', status: 400 }),
      );
      return;
    }
    const matched = table.match(request.method ?? 'GET', url.pathname);
    if (!matched) {
      sendOpenAIError(
        response,
        new GatewayError(`Unknown path ${url.pathname}`, {
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
        new GatewayError(`Method ${request.method} not allowed on ${url.pathname}`, {
          code: 'method_not_allowed',
          status: 405,
          retryable: false,
        }),
      );
      return;
    }
    const context: HttpContext = {
      request,
      response,
      requestId,
      url,
      params: matched.params,
      readBody: () => readBody(request, options.maxBodyBytes),
      signal,
      remoteAddress: clientAddress(request.socket?.remoteAddress, request.headers),
    };
    try {
      await matched.handler(context);
    } catch (thrown) {
      const error = toGatewayError(thrown);
      if (error.status >= 500 && error.code === 'internal_error')
        options.logger.error({ requestId, err: error.cause ?? error }, 'unhandled error');
      sendOpenAIError(response, error);
    }
  };

  const http1 = createHttpServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, handle);
  const http2 = createHttp2Server({}, handle as never);
  http1.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  // noDelay: node:http sets TCP_NODELAY only on sockets its own listener accepts, and these come
  // from this net server. Without it, Nagle holds each SSE event until the previous segment is
  // ACKed (up to the peer's ~40 ms delayed ACK): time to first token +40 ms, events bunched.
  const net = createNetServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('readable', () => {
      const head: Buffer | null =
        socket.read(Math.min(socket.readableLength, H2_PREFACE.length)) ?? socket.read();
      if (head) socket.unshift(head);
      const target =
        head && head.toString('latin1', 0, H2_PREFACE.length) === H2_PREFACE ? http2 : http1;
      target.emit('connection', socket);
    });
    socket.on('error', () => socket.destroy());
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
      await closed;
    },
    inFlight: () => active,
  };
}

/** Reads the whole body, refusing more than `limit` bytes with 413. */
export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    request.resume();
    throw tooLarge(limit);
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      request.resume();
      throw tooLarge(limit);
    }
    parts.push(buffer);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
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
