import { Agent, type Dispatcher, request } from 'undici';
import { GatewayError } from '../errors/index.js';
import type { AbortLike } from './abort.js';
import { readAll } from './read-all.js';
import { plainPathname } from '../core/plain-path.js';
import type { UpstreamRequest } from '../providers/adapter.js';

/** Options for the shared upstream HTTP client. */
export interface TransportOptions {
  /**
   * Max sockets per upstream origin. Default 1024: each open stream holds one socket for its
   * whole length, so this is how many answers one process streams at once from one origin
   * (256, the old default, queued the 257th stream behind the others).
   */
  connections?: number;
  /**
   * Max sockets per origin for the named pools (provider ids, `providers.<id>.maxConnections`).
   * Requests sent with such a pool go through their own connection pool; others share the
   * default one.
   */
  poolConnections?: Readonly<Record<string, number>>;
  /** Time to wait for response headers, ms. Default 30000 (the router sets a per-attempt timeout too). */
  headersTimeoutMs?: number;
  /** Max idle time between body chunks, ms. Default 300000. */
  bodyTimeoutMs?: number;
  /** Dispatcher to use instead of a fresh Agent (tests). */
  dispatcher?: Dispatcher;
}

/** A 2xx-or-not upstream answer whose body is still unread. */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Uint8Array> & { destroy(error?: Error): void };
  /** Reads the body as text, at most `limit` bytes. */
  text(limit?: number): Promise<string>;
}

/** The upstream HTTP client: one undici Agent shared by every provider. */
export interface Transport {
  /** Sends `upstream`; `pool` (a provider id) selects that provider's own connection limit, when it has one. */
  send(upstream: UpstreamRequest, signal: AbortLike, pool?: string): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** Default max sockets per upstream origin (see {@link TransportOptions.connections}). */
export const DEFAULT_CONNECTIONS = 1024;

/** Creates the shared transport (undici.request on one Agent; no fetch on the hot path). */
export function createTransport(options: TransportOptions = {}): Transport {
  const agent = (connections: number) =>
    new Agent({
      connections,
      headersTimeout: options.headersTimeoutMs ?? 30_000,
      bodyTimeout: options.bodyTimeoutMs ?? 300_000,
      keepAliveTimeout: 10_000,
    });
  const dispatcher = options.dispatcher ?? agent(options.connections ?? DEFAULT_CONNECTIONS);
  // A provider with its own limit gets its own Agent (made on first use); an injected dispatcher serves everything.
  const pools = new Map<string, Dispatcher>();
  const dispatcherFor = (pool: string | undefined): Dispatcher => {
    if (pool === undefined || options.dispatcher) return dispatcher;
    let found = pools.get(pool);
    if (found) return found;
    const connections = options.poolConnections?.[pool];
    if (connections === undefined) return dispatcher;
    found = agent(connections);
    pools.set(pool, found);
    return found;
  };
  return {
    async send(upstream, signal, pool) {
      const dispatcher = dispatcherFor(pool);
      try {
        const target = targetOf(upstream.url);
        const response = await (target
          ? dispatcher.request({
              origin: target.origin,
              path: target.path,
              method: upstream.method,
              headers: upstream.headers,
              body: upstream.body ?? null,
              signal,
            })
          : request(upstream.url, {
              method: upstream.method,
              headers: upstream.headers,
              body: upstream.body ?? null,
              signal,
              dispatcher,
            }));
        const body = response.body;
        return {
          status: response.statusCode,
          headers: response.headers as Record<string, string | string[] | undefined>,
          body,
          async text(limit = 64 * 1024) {
            const read = await readAll(body, limit);
            if (read.over) body.destroy();
            const text = read.body.toString('utf8');
            return read.over ? text.slice(0, limit) : text;
          },
        };
      } catch (error) {
        throw connectionError(error, upstream.url, signal);
      }
    },
    async close() {
      if (!options.dispatcher)
        await Promise.all([dispatcher.close(), ...[...pools.values()].map((pool) => pool.close())]);
    },
  };
}

/** Origins of the upstream URLs seen, by the text before their path (a handful per process). */
const origins = new Map<string, string>();
const MAX_ORIGINS = 1000;
const PLAIN_QUERY = /^[\w.~:@!$&()*+,;=/?%-]*$/;

/**
 * `url` as undici's `request(url)` would send it (the origin and the path with its query),
 * without parsing it per request (`new URL` was about 2 µs of each proxied request): the origin
 * is parsed once per distinct prefix, and the path is taken as it stands when the URL parser
 * would leave it so. Undefined when only the parser can tell (then `request(url)` is used).
 */
export function targetOf(url: string): { origin: string; path: string } | undefined {
  const scheme = url.indexOf('://');
  if (scheme === -1) return undefined;
  const slash = url.indexOf('/', scheme + 3);
  if (slash === -1) return undefined;
  const prefix = url.slice(0, slash);
  let origin = origins.get(prefix);
  if (origin === undefined) {
    try {
      origin = new URL(prefix).origin;
    } catch {
      return undefined;
    }
    if (origin === 'null' || /[?#\\]/.test(prefix)) return undefined;
    if (origins.size < MAX_ORIGINS) origins.set(prefix, origin);
  }
  const path = url.slice(slash);
  const query = path.indexOf('?');
  if (plainPathname(path) === undefined) return undefined;
  // An empty query is dropped by the parser; anything it would escape goes through it.
  if (query !== -1 && (query === path.length - 1 || !PLAIN_QUERY.test(path.slice(query + 1))))
    return undefined;
  return { origin, path };
}

/** Maps a socket-level failure to a retryable GatewayError (or rethrows an abort). */
export function connectionError(error: unknown, url: string, signal?: AbortLike): GatewayError {
  if (error instanceof GatewayError) return error;
  const code = (error as { code?: string }).code ?? '';
  const origin = safeOrigin(url);
  if (signal?.aborted) {
    const reason = signal.reason;
    if (reason instanceof GatewayError) return reason;
    return new GatewayError('Request aborted', {
      code: 'client_closed_request',
      status: 499,
      errorClass: 'client_closed',
      retryable: false,
      failover: false,
      cause: error,
    });
  }
  if (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  ) {
    return new GatewayError(`Upstream ${origin} timed out`, {
      code: 'upstream_timeout',
      status: 504,
      errorClass: 'timeout',
      cause: error,
    });
  }
  return new GatewayError(`Upstream ${origin} unreachable (${code || (error as Error).message})`, {
    code: 'upstream_unreachable',
    status: 502,
    errorClass: 'connection',
    cause: error,
  });
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'upstream';
  }
}
