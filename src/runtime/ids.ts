import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** Random bytes fetched at once: one `randomBytes` call serves ~2,700 ids. */
const POOL_BYTES = 64 * 1024;

let pool = Buffer.alloc(0);
let offset = 0;

/**
 * A random id with the API's prefix (`msg_3fK9…`, base62, 24 characters after the prefix), as
 * `core/ids.ts` mints them but drawn from a pooled buffer: a request with a hundred input items
 * mints a hundred ids, and a `randomBytes` call per id showed up as the runtime's largest cost.
 */
export function pooledId(prefix: string, length = 24): string {
  if (offset + length > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  let out = prefix;
  for (let i = 0; i < length; i++) out += ALPHABET[pool[offset++]! % 62];
  return out;
}
