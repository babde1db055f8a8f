import { randomBytes } from 'node:crypto';

/** Random bytes fetched at once: one `randomBytes` call serves ~10,000 ids. */
const POOL_BYTES = 64 * 1024;
/** 6 random bytes = 12 hex characters = 48 random bits per id, after 12 hex characters of time. */
const RANDOM_BYTES = 6;

let pool = Buffer.alloc(0);
let offset = 0;

/**
 * A new id with the API's prefix: `msg_` + 24 hex characters (like OpenAI's own), of which the
 * first 12 are the creation time in ms and the last 12 are random (48 bits; ids only need to be
 * unique among a tenant's objects, and the primary keys that hold them reject a collision).
 *
 * Time first, so ids are created in key order: new responses and items append to the right
 * edge of their indexes instead of dirtying a random page each, which keeps the store's page
 * cache warm and its write-ahead log small. Random bytes come from a pooled buffer and are
 * encoded in one native call: a request with a hundred input items mints a hundred ids.
 */
export function pooledId(prefix: string): string {
  if (offset + RANDOM_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const id =
    prefix +
    Date.now().toString(16).padStart(12, '0') +
    pool.toString('hex', offset, offset + RANDOM_BYTES);
  offset += RANDOM_BYTES;
  return id;
}
