import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashSecret, newSecret, safeEqual, secretMatcher } from '../../src/access/secrets.js';

const reference = (text: string) => createHash('sha256').update(text).digest('hex');

describe('secrets', () => {
  it('hashes a secret to its SHA-256, hex (what the store keeps)', () => {
    for (const text of ['sk-sy-abc', '', 'ключ-é', 'x'.repeat(10_000)])
      expect(hashSecret(text)).toBe(reference(text));
    const { secret, hash, prefix } = newSecret();
    expect(secret).toMatch(/^sk-sy-[0-9A-Za-z]{40}$/);
    expect(hash).toBe(reference(secret));
    expect(secret.startsWith(prefix.slice(0, -1))).toBe(true);
  });

  it('matches the master key, and hands back the hash of any other token for the key lookup', () => {
    const match = secretMatcher('sk-master');
    expect(match('sk-master')).toEqual({ matches: true, hash: '' });
    expect(match('sk-other')).toEqual({ matches: false, hash: reference('sk-other') });
    expect(secretMatcher(undefined)('sk-master')).toEqual({
      matches: false,
      hash: reference('sk-master'),
    });
    expect(safeEqual('a', 'a')).toBe(true);
    expect(safeEqual('a', 'b')).toBe(false);
  });
});
