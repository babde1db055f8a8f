import type { IncomingHttpHeaders } from 'node:http';
import { addressMatcher, isLoopback, normalizeAddress } from '../core/addresses.js';

/** Headers by which a proxy says whom it forwards for. */
const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const;

/**
 * Decides the client's address for access decisions (`server.trustProxy`).
 *
 * - From a trusted proxy (an address or CIDR in `trustProxy`): X-Forwarded-For is read from the
 *   right, skipping trusted hops; the first untrusted hop is the client. A client cannot forge
 *   its way in by sending its own X-Forwarded-For, because the proxy appends the address it saw
 *   and that one is read first. Without the header, the proxy itself is the client (its checks).
 * - From any other peer the socket's address is the client, except that a loopback peer which
 *   sends forwarding headers is a proxy nobody declared: the real client is unknown, so the
 *   answer is undefined and it gets no loopback rights. This is what stops a reverse proxy on
 *   the same host from giving every client the rights of a local one.
 *
 * Returns undefined when the client's address cannot be known.
 */
export function createClientAddress(
  trustProxy: readonly string[],
): (peer: string | undefined, headers: IncomingHttpHeaders) => string | undefined {
  const trusted = addressMatcher(trustProxy);
  return (peer, headers) => {
    const socketAddress = normalizeAddress(peer);
    if (!socketAddress) return undefined;
    if (!trusted(socketAddress)) {
      const forwarded = FORWARDING_HEADERS.some((name) => headers[name] !== undefined);
      return forwarded && isLoopback(socketAddress) ? undefined : socketAddress;
    }
    const header = headers['x-forwarded-for'];
    if (header === undefined) return socketAddress;
    const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
    for (let index = hops.length - 1; index >= 0; index--) {
      const hop = normalizeAddress(hops[index]);
      // A hop that is not an address (`unknown`, garbage) ends what can be believed.
      if (!hop) return undefined;
      if (!trusted(hop)) return hop;
    }
    // Every hop is a trusted proxy: the first one is where the request started.
    return normalizeAddress(hops[0]);
  };
}
