import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { merged } from '../core/objects.js';

/**
 * Small node:http helpers shared by the sandbox emulators (and the test fakes): body reading
 * with a size cap, JSON answers, backpressure-aware writes, and listen/close on loopback.
 */

/** Thrown by {@link readBody} when the body exceeds the limit. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** Reads the whole request body as UTF-8. Rejects with {@link BodyTooLargeError} past `limit` bytes (default 32 MiB). */
export async function readBody(
  request: IncomingMessage,
  limit = 32 * 1024 * 1024,
): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of request as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > limit) throw new BodyTooLargeError(`request body exceeds ${limit} bytes`);
    parts.push(part);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Answers with a JSON body and `content-length`. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(
    status,
    merged(headers, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    }),
  );
  response.end(text);
}

/**
 * Writes one piece, waiting for `drain` when the socket buffer is full. Resolves false when the
 * client has gone (the caller should stop producing), true otherwise.
 */
export async function writeWithBackpressure(
  response: ServerResponse,
  data: string | Uint8Array,
): Promise<boolean> {
  if (response.destroyed || response.writableEnded) return false;
  if (response.write(data)) return true;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
  return !response.destroyed;
}

/** A listening loopback server and its port. */
export interface Listening {
  server: Server;
  port: number;
  url: string;
  /** Stops accepting, drops open (keep-alive or streaming) connections, resolves when closed. */
  close(): Promise<void>;
}

/** Starts `handler` on `host:port` (default 127.0.0.1, port 0 = any free port). */
export async function listen(
  handler: RequestListener,
  host = '127.0.0.1',
  port = 0,
): Promise<Listening> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    url: `http://${host}:${bound}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
