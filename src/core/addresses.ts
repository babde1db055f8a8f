import { BlockList, isIP } from 'node:net';

/**
 * IP address helpers for the decisions that depend on who a client is: loopback clients get
 * admin rights when no master key is set, and only trusted proxies may say who the client is.
 */

/**
 * The bare IP of an address as sockets and proxies write it, or undefined when it is not one:
 * IPv4-mapped IPv6 (`::ffff:10.0.0.1`) becomes IPv4, and brackets and ports that some proxies
 * add to X-Forwarded-For (`[2001:db8::1]:443`, `203.0.113.5:5060`) are dropped.
 */
export function normalizeAddress(address: string | undefined): string | undefined {
  if (!address) return undefined;
  let value = address.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) value = bracketed[1]!;
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(value);
  if (withPort) value = withPort[1]!;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(value);
  if (mapped) value = mapped[1]!;
  // A zone index (fe80::1%eth0) names an interface, not a host: it takes no part in matching.
  const zone = value.indexOf('%');
  if (zone !== -1) value = value.slice(0, zone);
  return isIP(value) === 0 ? undefined : value.toLowerCase();
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address: string | undefined): boolean {
  const ip = normalizeAddress(address);
  if (!ip) return false;
  return ip === '::1' || ip.startsWith('127.');
}

/** Whether `entry` is an IP address or a CIDR block (`10.0.0.0/8`, `fd00::/8`). */
export function isAddressOrCidr(entry: string): boolean {
  const [ip, bits, ...rest] = entry.trim().split('/');
  if (rest.length > 0 || ip === undefined) return false;
  const family = isIP(ip);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * A matcher for a list of addresses and CIDR blocks (entries must pass {@link isAddressOrCidr}).
 * Addresses are normalized first, so `::ffff:127.0.0.1` matches `127.0.0.1/8`.
 */
export function addressMatcher(
  entries: readonly string[],
): (address: string | undefined) => boolean {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries) {
    const [ip, bits] = entry.trim().split('/');
    const type = isIP(ip!) === 4 ? 'ipv4' : 'ipv6';
    const normalized = normalizeAddress(ip)!;
    const normalizedType = isIP(normalized) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(normalized, normalizedType);
    else list.addSubnet(ip!, Number(bits), type);
  }
  return (address) => {
    const ip = normalizeAddress(address);
    if (!ip) return false;
    return list.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6');
  };
}
