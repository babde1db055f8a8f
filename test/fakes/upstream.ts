import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { listen, readBody } from '../../src/sandbox/http.js';

/**
 * A scripted fake upstream on a real loopback socket (fastify/undici habit, ../shared/STYLE.md
 * "Testing"): per request it answers one {@link FakeStep} and records what it received, so
 * tests cover slow headers, chunk timing, mid-stream resets and backpressure for real.
 */

/** What to answer to one request. */
export interface FakeStep {
  /** Default 200. */
  status?: number;
  /** Response headers (names are lower-cased). */
  headers?: Record<string, string>;
  /**
   * Whole body. An object is sent as JSON (`content-type: application/json`), a string as is
   * (`text/plain` unless `headers` say otherwise). Ignored when `chunks` is set.
   */
  body?: string | object;
  /**
   * Raw pieces written one by one after the headers are flushed (default content type
   * `text/event-stream`); each may wait `delayMs` first. SSE framing is the test's job.
   */
  chunks?: Array<string | Uint8Array | { data: string | Uint8Array; delayMs?: number }>;
  /** Wait before writing the status line and headers. */
  headersDelayMs?: number;
  /**
   * Destroy the socket after this many chunks have been flushed (0 = right after the headers),
   * so the body ends without its terminating chunk: clients see a premature close.
   */
  resetAfterChunks?: number;
  /** Destroy the socket as soon as the request is read, before any response byte. */
  resetBeforeHeaders?: boolean;
  /**
   * Stop writing after this many chunks and keep the connection open, silent, until the client
   * closes it: a stalled upstream.
   */
  stallAfterChunks?: number;
}

/** One request as the fake received it. */
export interface FakeRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A running fake upstream. */
export interface FakeUpstream {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Every request received so far, in order (the body fully read). */
  requests: FakeRequest[];
  /**
   * Sets the answers: a list is consumed one step per request and its last step repeats; a
   * function is called for every request (with its 0-based number). Resets the step counter.
   * Before any script, every request gets `200 {}`.
   */
  script(steps: FakeStep[] | ((request: FakeRequest, index: number) => FakeStep)): void;
  close(): Promise<void>;
}

/**
 * Starts a fake upstream on 127.0.0.1 with a free port.
 * @example
 * const upstream = await startFakeUpstream();
 * upstream.script([{ status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'slow down' } } }, { body: { ok: true } }]);
 */
export async function startFakeUpstream(): Promise<FakeUpstream> {
  const requests: FakeRequest[] = [];
  let steps: FakeStep[] | ((request: FakeRequest, index: number) => FakeStep) = [{ body: {} }];
  let served = 0;

  function nextStep(request: FakeRequest): FakeStep {
    const index = served++;
    if (typeof steps === 'function') return steps(request, index);
    return steps[Math.min(index, steps.length - 1)] ?? { body: {} };
  }

  async function handle(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(incoming);
    const request: FakeRequest = {
      method: incoming.method ?? 'GET',
      url: incoming.url ?? '/',
      headers: { ...incoming.headers },
      body,
    };
    requests.push(request);
    const step = nextStep(request);
    if (step.resetBeforeHeaders) return void incoming.socket.destroy();
    if (step.headersDelayMs !== undefined) await sleep(step.headersDelayMs);
    if (response.destroyed) return;

    const headers = Object.fromEntries(
      Object.entries(step.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const status = step.status ?? 200;
    if (step.chunks === undefined) {
      const text = typeof step.body === 'string' ? step.body : JSON.stringify(step.body ?? {});
      const type = typeof step.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
      response.writeHead(status, {
        'content-type': type,
        'content-length': String(Buffer.byteLength(text)),
        ...headers,
      });
      response.end(text);
      return;
    }
    response.writeHead(status, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      ...headers,
    });
    response.flushHeaders();
    for (const [i, chunk] of step.chunks.entries()) {
      if (step.resetAfterChunks === i) return void incoming.socket.destroy();
      if (step.stallAfterChunks === i) return;
      const { data, delayMs } =
        typeof chunk === 'string' || chunk instanceof Uint8Array
          ? { data: chunk, delayMs: undefined }
          : chunk;
      if (delayMs !== undefined) await sleep(delayMs);
      if (!(await writeFlushed(response, data))) return;
    }
    if (step.resetAfterChunks !== undefined && step.resetAfterChunks >= step.chunks.length) {
      return void incoming.socket.destroy();
    }
    if (step.stallAfterChunks !== undefined && step.stallAfterChunks >= step.chunks.length) return;
    response.end();
  }

  const server = await listen((incoming, response) => {
    handle(incoming, response).catch(() => incoming.socket.destroy());
  });
  return {
    url: server.url,
    port: server.port,
    requests,
    script(next) {
      steps = next;
      served = 0;
    },
    close: () => server.close(),
  };
}

/**
 * Writes and waits until the piece is handed to the socket, so a reset that follows cannot drop
 * it and a slow reader pushes back. Resolves false when the client has gone.
 */
function writeFlushed(response: ServerResponse, data: string | Uint8Array): Promise<boolean> {
  if (response.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = (): void => resolve(false);
    response.once('close', onClose);
    response.write(data, (error) => {
      response.off('close', onClose);
      resolve(!error && !response.destroyed);
    });
  });
}

/**
 * A loopback port with nothing listening (bound, read, then released), for connection-refused
 * tests. Another process could take it in between; on loopback in tests that is unlikely.
 */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
