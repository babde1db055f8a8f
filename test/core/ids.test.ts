import { describe, expect, it } from 'vitest';
import { randomId, timeOrderedId } from '../../src/core/ids.js';

describe('ids', () => {
  it('randomId: the prefix, then base62 characters of the asked length, all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = randomId('resp_');
      expect(id).toMatch(/^resp_[0-9a-zA-Z]{24}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(10_000);
    expect(randomId('sk-sy-', 40)).toMatch(/^sk-sy-[0-9a-zA-Z]{40}$/);
    expect(randomId('', 100)).toMatch(/^[0-9a-zA-Z]{100}$/);
    expect(randomId('x_')).toMatch(/^x_[0-9a-zA-Z]{24}$/);
  });

  it('timeOrderedId: 8 time characters then 16 random ones; later ids sort after earlier ones', () => {
    const times = [0, 1, 61, 62, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000];
    const ids = times.map((now) => timeOrderedId('req_', now));
    for (const id of ids) expect(id).toMatch(/^req_[0-9A-Za-z]{24}$/);
    expect(ids[0]!.slice(4, 12)).toBe('00000000');
    expect(ids[3]!.slice(4, 12)).toBe('00000010');
    expect([...ids].sort()).toEqual(ids);
    const same = new Set(Array.from({ length: 1000 }, () => timeOrderedId('req_', 5)));
    expect(same.size).toBe(1000);
  });
});
