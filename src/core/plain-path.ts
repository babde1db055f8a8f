/**
 * The path of an HTTP request target, without building a URL when the target is plain.
 *
 * `new URL(target, base)` cost about 2 µs per request (bench/profile-pair.ts) and most handlers
 * never read the query. A target whose path holds only characters the URL parser leaves as they
 * are (or percent escapes, which it keeps), no dot segment and no leading `//` has that path as its `pathname`;
 * anything else returns undefined and goes through the parser (test/core/plain-path.test.ts
 * compares the two on generated targets).
 */
const PLAIN_PATH = /^\/(?!\/)(?:[\w.~:@!$&'()*+,;=/-]|%[0-9A-Fa-f]{2})*$/;
/** A dot segment may be spelled with an escape (`%2e%2e`): the parser resolves those too. */
const ESCAPED_DOT = /%2e/i;

/** The pathname `new URL(target, base)` would give, or undefined when only the parser can tell. */
export function plainPathname(target: string): string | undefined {
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  if (!PLAIN_PATH.test(path) || path.includes('/.') || ESCAPED_DOT.test(path)) return undefined;
  return path;
}
