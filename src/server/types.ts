import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientAbort } from '../transport/abort.js';

/** Per-request context handed to route handlers. */
export interface HttpContext {
  request: IncomingMessage;
  response: ServerResponse;
  /** Also sent as `x-request-id`. */
  requestId: string;
  url: URL;
  /** Path parameters (`/model/:modelId/converse` → `{ modelId }`), already URI-decoded. */
  params: Record<string, string>;
  /** Reads the whole body (the configured limit applies: throws GatewayError body_too_large). */
  readBody(): Promise<Buffer>;
  /**
   * Fired when the client disconnects before the answer is complete: an emitter, cheaper than
   * an AbortSignal (the gateway's call path listens on this).
   */
  client: ClientAbort;
  /** The same as an AbortSignal, made on first read (for APIs that take only a signal). */
  readonly signal: AbortSignal;
  /**
   * The client's address as far as it can be believed (see server/client-address.ts): read
   * through X-Forwarded-For only from a `server.trustProxy` peer; undefined when unknown.
   */
  remoteAddress: string | undefined;
}

export type Handler = (context: HttpContext) => Promise<void>;

/** One route. `path` segments starting with `:` are parameters; a trailing `*` matches the rest. */
export interface Route {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  path: string;
  handler: Handler;
}
