import * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import { randomId } from '../core/ids.js';

/**
 * Virtual key secrets. A secret is `sk-sy-` followed by 40 random base62 characters (≈238 bits),
 * shown once at creation and stored only as its SHA-256 hash. A fast hash is enough here: the
 * secret is random and long, so there is nothing to brute-force, and a slow KDF (bcrypt, scrypt)
 * would cost milliseconds on every request.
 */

/** Prefix of every virtual key secret. */
export const SECRET_PREFIX = 'sk-sy-';

/** A new secret, its hash (what the database stores) and its display prefix (`sk-sy-AbCd…`). */
export function newSecret(): { secret: string; hash: string; prefix: string } {
  const secret = randomId(SECRET_PREFIX, 40);
  return { secret, hash: hashSecret(secret), prefix: displayPrefix(secret) };
}

/**
 * SHA-256 of `text`: Node's one-shot `crypto.hash` (Node 20.12 and later) where it exists, which
 * skips the Hash object `createHash` builds (about 2 µs of each request's key check), else
 * `createHash`.
 */
const sha256: (text: string) => Buffer =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'buffer')
    : (text) => createHash('sha256').update(text).digest();

/** SHA-256 of the secret, hex. */
export function hashSecret(secret: string): string {
  return sha256(secret).toString('hex');
}

/**
 * Matches presented bearer tokens against a fixed secret (the master key) whose digest is
 * computed once. `match` hashes the token once and returns the digest as hex too, so the caller
 * can look the token up as a virtual key without hashing it again: one SHA-256 per request
 * instead of three (`safeEqual` hashed both sides, then `hashSecret` the token). `hash` is empty
 * when the token matched (nothing to look up).
 */
export function secretMatcher(
  secret: string | undefined,
): (token: string) => { matches: boolean; hash: string } {
  const expected = secret === undefined ? undefined : createHash('sha256').update(secret).digest();
  return (token) => {
    const digest = sha256(token);
    const matches = expected !== undefined && timingSafeEqual(digest, expected);
    return { matches, hash: matches ? '' : digest.toString('hex') };
  };
}

/** What lists show of a secret: its first characters, enough to recognise it, not to use it. */
export function displayPrefix(secret: string): string {
  return `${secret.slice(0, SECRET_PREFIX.length + 4)}…`;
}

/** Constant-time string comparison (through hashes, so lengths leak nothing either). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(
    createHash('sha256').update(a).digest(),
    createHash('sha256').update(b).digest(),
  );
}
