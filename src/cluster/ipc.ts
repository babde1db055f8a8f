import { GatewayError, type GatewayErrorOptions } from '../errors/index.js';

/**
 * Calls between a `server.workers` worker and the primary over node:cluster's IPC channel
 * (`serialization: 'advanced'`, so bigint amounts and Maps cross as they are). A worker calls a
 * named method and awaits the reply; the primary answers from its dispatch table. Broadcasts go
 * to the primary, which relays them to every other worker (key-cache invalidation, breaker
 * transitions): the same fan-out Redis pub/sub gives separate replicas.
 */

/** What crosses the channel. The `sy` tag keeps our messages apart from cluster's own. */
export type Message =
  | { sy: 'call'; id: number; method: string; args: unknown[] }
  | { sy: 'reply'; id: number; ok: true; value: unknown }
  | { sy: 'reply'; id: number; ok: false; error: WireError }
  | { sy: 'broadcast'; topic: string; payload: unknown }
  | { sy: 'shutdown' };

/** An error as it crosses the channel (Error objects lose their own fields in a structured clone). */
export interface WireError {
  name: string;
  message: string;
  code?: string | undefined;
  gateway?: Pick<GatewayErrorOptions, 'code' | 'status' | 'errorClass' | 'retryable' | 'failover'>;
}

/** The end of the channel a process holds: `process` in a worker, a `Worker` in the primary. */
export interface Channel {
  send(message: Message): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/** Worker side: calls into the primary and receives relayed broadcasts. */
export interface ClusterClient {
  call<T>(method: string, args: unknown[], timeoutMs?: number): Promise<T>;
  broadcast(topic: string, payload: unknown): void;
  onBroadcast(topic: string, listener: (payload: unknown) => void): void;
  /** Calls not answered yet. */
  readonly pending: number;
  /** Resolves when every call made so far has been answered (or failed). */
  idle(): Promise<void>;
}

/** How long a call waits for the primary by default, ms. */
export const CALL_TIMEOUT_MS = 10_000;

/** True for a message of ours. */
export function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as Message).sy === 'string';
}

/** Creates the worker side of the channel. */
export function createClusterClient(channel: Channel): ClusterClient {
  let next = 1;
  const waiting = new Map<
    number,
    { resolve(value: unknown): void; reject(error: unknown): void; timer: NodeJS.Timeout }
  >();
  const listeners = new Map<string, Array<(payload: unknown) => void>>();
  let idle: Array<() => void> = [];
  const settled = () => {
    if (waiting.size > 0) return;
    const done = idle;
    idle = [];
    for (const resolve of done) resolve();
  };

  channel.on('message', (message) => {
    if (!isMessage(message)) return;
    if (message.sy === 'reply') {
      const call = waiting.get(message.id);
      if (!call) return;
      waiting.delete(message.id);
      clearTimeout(call.timer);
      if (message.ok) call.resolve(message.value);
      else call.reject(fromWire(message.error));
      settled();
    } else if (message.sy === 'broadcast') {
      for (const listener of listeners.get(message.topic) ?? []) listener(message.payload);
    }
  });
  // The primary is gone: nothing will answer the calls in flight, nor later ones.
  let gone = false;
  channel.on('disconnect', () => {
    gone = true;
    for (const [id, call] of waiting) {
      waiting.delete(id);
      clearTimeout(call.timer);
      call.reject(unavailable('the cluster primary is gone'));
    }
    settled();
  });

  return {
    call<T>(method: string, args: unknown[], timeoutMs = CALL_TIMEOUT_MS) {
      if (gone) return Promise.reject(unavailable('the cluster primary is gone'));
      return new Promise<T>((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(unavailable(`the cluster primary did not answer ${method} in ${timeoutMs} ms`));
          settled();
        }, timeoutMs);
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        try {
          channel.send({ sy: 'call', id, method, args });
        } catch (error) {
          waiting.delete(id);
          clearTimeout(timer);
          reject(unavailable(`the cluster primary is unreachable (${(error as Error).message})`));
          settled();
        }
      });
    },
    broadcast(topic, payload) {
      try {
        channel.send({ sy: 'broadcast', topic, payload });
      } catch {
        // A lost relay only delays what the TTLs and the next transition repair.
      }
    },
    onBroadcast(topic, listener) {
      const list = listeners.get(topic) ?? [];
      list.push(listener);
      listeners.set(topic, list);
    },
    get pending() {
      return waiting.size;
    },
    idle() {
      if (waiting.size === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
  };
}

/** Primary side: the methods workers may call. `worker` identifies the caller. */
export type Handlers = Record<string, (worker: number, ...args: never[]) => unknown>;

/**
 * Answers one worker's calls from `handlers`. A reply to a worker that has gone is dropped (its
 * in-flight work is undone by the primary's exit handling, not here).
 */
export function serveWorker(channel: Channel, worker: number, handlers: Handlers): void {
  channel.on('message', (message) => {
    if (!isMessage(message) || message.sy !== 'call') return;
    const handler = handlers[message.method];
    const reply = (answer: Message) => {
      try {
        channel.send(answer);
      } catch {
        // The worker exited meanwhile.
      }
    };
    if (!handler) {
      reply({
        sy: 'reply',
        id: message.id,
        ok: false,
        error: { name: 'Error', message: `unknown cluster method ${message.method}` },
      });
      return;
    }
    Promise.resolve()
      .then(() => handler(worker, ...(message.args as never[])))
      .then(
        (value) => reply({ sy: 'reply', id: message.id, ok: true, value }),
        (error: unknown) => reply({ sy: 'reply', id: message.id, ok: false, error: toWire(error) }),
      );
  });
}

/** An error as it crosses the channel. */
export function toWire(error: unknown): WireError {
  if (error instanceof GatewayError)
    return {
      name: error.name,
      message: error.message,
      gateway: {
        code: error.code,
        status: error.status,
        errorClass: error.errorClass,
        retryable: error.retryable,
        failover: error.failover,
      },
    };
  const plain = error instanceof Error ? error : new Error(String(error));
  const code = (plain as { code?: unknown }).code;
  return {
    name: plain.name,
    message: plain.message,
    ...(typeof code === 'string' && { code }),
  };
}

/** The error a {@link WireError} stands for, rebuilt on this side. */
export function fromWire(wire: WireError): Error {
  if (wire.gateway) return new GatewayError(wire.message, wire.gateway);
  const error = wire.name === 'RangeError' ? new RangeError(wire.message) : new Error(wire.message);
  if (wire.code !== undefined) Object.assign(error, { code: wire.code });
  return error;
}

function unavailable(message: string): GatewayError {
  return new GatewayError(message, {
    code: 'internal_error',
    status: 503,
    errorClass: 'server_error',
    retryable: true,
    failover: false,
  });
}
