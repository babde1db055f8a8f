import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientAbort } from '../transport/abort.js';
import type { HttpContext } from './types.js';

/**
 * A request's {@link HttpContext}. A class, so every context shares one hidden class with its
 * getters on the prototype. An object literal with getters (`{ get url() {…} }`) gets a new
 * hidden class each time it is evaluated, allocated in V8's old space, and that hidden class
 * holds the getters' closures: through them the request, the response and everything they
 * reach stayed alive through every young-generation GC until the next full one. This object
 * alone had 3.4 KB of every request promoted to the old space (bench/gc-promotion.ts).
 */
export class RequestContext implements HttpContext {
  #url: URL | undefined;

  constructor(
    readonly request: IncomingMessage,
    readonly response: ServerResponse,
    readonly requestId: string,
    /** The request target as sent; `url` is built from it when first read. */
    private readonly target: string,
    url: URL | undefined,
    readonly params: Record<string, string>,
    readonly client: ClientAbort,
    readonly remoteAddress: string | undefined,
    private readonly reader: (request: IncomingMessage) => Promise<Buffer>,
  ) {
    this.#url = url;
  }

  get url(): URL {
    this.#url ??= new URL(this.target, 'http://localhost');
    return this.#url;
  }

  get signal(): AbortSignal {
    return this.client.signal;
  }

  readBody(): Promise<Buffer> {
    return this.reader(this.request);
  }
}
