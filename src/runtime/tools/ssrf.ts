import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import { merged } from '../../core/objects.js';

/**
 * SSRF policy for outbound tool calls (MCP servers, HTTP tools). Every address actually
 * connected to is checked (an undici dispatcher whose `connect.lookup` filters the resolved
 * addresses), so a DNS name resolving to a private address is refused, not only a literal;
 * redirects are followed by hand and each hop's URL is checked again.
 */

/** Operator policy (config `runtime.tools`). */
export interface OutboundPolicy {
  /** Allow private, loopback, link-local and metadata addresses (tests, trusted networks). Default false. */
  allowPrivateNetworks: boolean;
  /** Host names or IP addresses allowed even when private (exact match, lower case). */
  allowHosts: string[];
}

export const DEFAULT_POLICY: OutboundPolicy = { allowPrivateNetworks: false, allowHosts: [] };

/** Thrown when a URL or address is refused by the policy. */
export class OutboundBlockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundBlockedError';
  }
}

const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  blocked.addSubnet(network, prefix, 'ipv6');

/** True when `address` (an IP literal) is private, loopback, link-local, metadata or otherwise non-public. */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
    if (mapped) return blocked.check(mapped[1]!, 'ipv4');
    return blocked.check(bare, 'ipv6');
  }
  return false;
}

function allowedHost(policy: OutboundPolicy, host: string): boolean {
  return (
    policy.allowPrivateNetworks ||
    policy.allowHosts.includes(host.toLowerCase().replace(/^\[|\]$/g, ''))
  );
}

/** Checks a URL before connecting: http(s) only; an IP-literal host must be public unless allowed. */
export function checkUrl(policy: OutboundPolicy, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundBlockedError(`Invalid tool URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new OutboundBlockedError(`Tool URLs must be http or https, got ${url.protocol}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host.toLowerCase() === 'localhost' && !allowedHost(policy, host))
    throw new OutboundBlockedError(
      `Refusing to connect to ${host}: loopback addresses are not allowed for tools`,
    );
  if (isIP(host) !== 0 && isPrivateAddress(host) && !allowedHost(policy, host)) {
    throw new OutboundBlockedError(
      `Refusing to connect to ${host}: private, loopback, link-local and metadata addresses are not allowed for tools`,
    );
  }
  return url;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `connect.lookup` that resolves, then refuses private addresses unless the host is allowed. */
export function guardedLookup(policy: OutboundPolicy) {
  return (hostname: string, options: Record<string, unknown>, callback: LookupCallback): void => {
    dnsLookup(hostname, merged(options, { all: true }) as { all: true }, (error, addresses) => {
      if (error) {
        callback(error, []);
        return;
      }
      const list = addresses as LookupAddress[];
      if (!allowedHost(policy, hostname)) {
        const bad = list.find((entry) => isPrivateAddress(entry.address));
        if (bad) {
          const refused: NodeJS.ErrnoException = new OutboundBlockedError(
            `Refusing to connect to ${hostname} (${bad.address}): private, loopback, link-local and metadata addresses are not allowed for tools`,
          );
          refused.code = 'ESWITCHYARD_SSRF';
          callback(refused, []);
          return;
        }
      }
      if (options['all'] === true) callback(null, list);
      else callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

/** An undici dispatcher enforcing the policy on every connection. */
export function guardedAgent(policy: OutboundPolicy): Agent {
  return new Agent({ connect: { lookup: guardedLookup(policy) as never } });
}

const MAX_REDIRECTS = 5;

/**
 * A `fetch` for tool traffic: checks the URL, connects through the guarded dispatcher, and
 * follows redirects by hand (each hop checked), so a redirect to a private address is refused.
 */
export function guardedFetch(
  policy: OutboundPolicy,
  dispatcher: Agent = guardedAgent(policy),
): typeof fetch {
  const run = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let url = checkUrl(
      policy,
      typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
    );
    let request = init ?? {};
    for (let hop = 0; ; hop++) {
      const answer = (await undiciFetch(
        url,
        merged(request as object, {
          redirect: 'manual',
          dispatcher,
        }) as never,
      )) as unknown as Response;
      const location = answer.headers.get('location');
      if (answer.status < 300 || answer.status >= 400 || location === null) return answer;
      if (hop >= MAX_REDIRECTS) throw new OutboundBlockedError('Too many redirects');
      await answer.body?.cancel().catch(() => undefined);
      const target = checkUrl(policy, new URL(location, url).href);
      if (target.origin !== url.origin) {
        // Credentials given for the tool's origin never follow a redirect to another origin.
        const headers = new Headers(request.headers);
        for (const name of ['authorization', 'cookie', 'proxy-authorization', 'x-api-key'])
          headers.delete(name);
        request = merged(request, { headers });
      }
      url = target;
      if (
        answer.status === 303 ||
        ((answer.status === 301 || answer.status === 302) &&
          (request.method ?? 'GET').toUpperCase() === 'POST')
      ) {
        request = merged(request, { method: 'GET', body: null });
      }
    }
  };
  return run as typeof fetch;
}
