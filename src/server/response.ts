import {
  type IncomingMessage,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import { merged } from '../core/objects.js';

type Headers = OutgoingHttpHeaders | OutgoingHttpHeader[];

/**
 * The HTTP/1.1 response node:http makes for each request (`createServer({ ServerResponse })`),
 * carrying the request id with the headers instead of setting it up front.
 *
 * `writeHead(status, headers)` on a response with no header set yet takes `headers` whole; one
 * header set before it (`setHeader('x-request-id', …)`, as every request did) makes node:http
 * store each of the others through `setHeader` as well, one by one, which took about twice as
 * long for an SSE answer's eight headers (0.8 µs more; bench/object-spread.ts, second table).
 * So the id waits here and joins the headers object when the answer starts; an answer whose
 * headers were set one by one gets it the same way as before.
 */
export class GatewayResponse<
  Request extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Request> {
  /** `x-request-id`, not sent yet. */
  private pendingId: string | undefined;

  /** Sends `x-request-id: id` with the headers, whichever way they are written. */
  carryRequestId(id: string): void {
    this.pendingId = id;
  }

  override writeHead(statusCode: number, reason?: string | Headers, headers?: Headers): this {
    const id = this.pendingId;
    if (id !== undefined) {
      this.pendingId = undefined;
      const given = typeof reason === 'string' ? headers : reason;
      if ((given === undefined || !Array.isArray(given)) && this.getHeaderNames().length === 0) {
        const all = merged(given, { 'x-request-id': id });
        return typeof reason === 'string'
          ? super.writeHead(statusCode, reason, all)
          : super.writeHead(statusCode, all);
      }
      if (!this.hasHeader('x-request-id')) this.setHeader('x-request-id', id);
    }
    // node:http reads the arguments by their types, as given.
    return super.writeHead(statusCode, reason as string, headers);
  }
}
