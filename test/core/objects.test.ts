import { describe, expect, it } from 'vitest';
import { copied, isRecord, merged } from '../../src/core/objects.js';

describe('merged (the fast form of an object spread)', () => {
  it('makes what `{ ...a, ...b, ...c }` makes: later parts win, in their key order', () => {
    const a = { x: 1, y: 2 };
    const b = { y: 3, z: 4 };
    const c = { w: 5 };
    expect(merged(a, b)).toEqual({ ...a, ...b });
    expect(Object.keys(merged(a, b))).toEqual(Object.keys({ ...a, ...b }));
    expect(merged(a, b, c)).toEqual({ ...a, ...b, ...c });
    expect(Object.keys(merged(a, b, c))).toEqual(['x', 'y', 'z', 'w']);
  });

  it('returns a new plain object and leaves its parts alone', () => {
    const a = { x: 1 };
    const out = merged(a, { y: 2 });
    expect(out).not.toBe(a);
    expect(a).toEqual({ x: 1 });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });

  it('skips falsy parts, as a spread of `condition && { key }` does', () => {
    const on = true as boolean;
    const off = false as boolean;
    expect(merged({ a: 1 }, off && { b: 2 })).toEqual({ a: 1 });
    expect(merged({ a: 1 }, on && { b: 2 })).toEqual({ a: 1, b: 2 });
    expect(merged(undefined, null, { c: 3 })).toEqual({ c: 3 });
  });

  it('copies own enumerable properties only, reading getters once', () => {
    let reads = 0;
    const source = Object.create(
      { inherited: true },
      {
        own: { enumerable: true, get: () => ++reads },
        hidden: { enumerable: false, value: 1 },
      },
    ) as Record<string, unknown>;
    const out = merged(source, { extra: 1 });
    expect(out).toEqual({ own: 1, extra: 1 });
    expect(reads).toBe(1);
    expect(Object.getOwnPropertyDescriptor(out, 'own')?.get).toBeUndefined();
  });

  it('keeps a parsed `__proto__` key as an own property, as a spread does (no prototype change)', () => {
    const body = JSON.parse('{"__proto__": {"stream": true}, "model": "m"}') as Record<
      string,
      unknown
    >;
    const spread = { ...body, max_tokens: 5 };
    const out = merged(body, { max_tokens: 5 });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect((out as { stream?: unknown }).stream).toBeUndefined();
    expect(JSON.stringify(out)).toBe(JSON.stringify(spread));
  });
});

describe('copied (a copy that gets more properties)', () => {
  it('is a new plain object with the same own properties, in order', () => {
    const source = { b: 1, a: 2 };
    const copy = copied(source);
    expect(copy).not.toBe(source);
    expect(copy).toEqual(source);
    expect(Object.keys(copy)).toEqual(['b', 'a']);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    (copy as Record<string, number>)['c'] = 3;
    expect(source).toEqual({ b: 1, a: 2 });
  });

  it('keeps a parsed `__proto__` key an own property', () => {
    const body = JSON.parse('{"__proto__": {"x": 1}}') as object;
    const copy = copied(body);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
  });
});

describe('isRecord', () => {
  it('is true for objects, false for null, arrays and primitives', () => {
    expect(isRecord({})).toBe(true);
    expect(isRecord(JSON.parse('{"a":1}'))).toBe(true);
    expect(isRecord(Object.create(null))).toBe(true);
    for (const value of [null, undefined, [], [1], 'x', 1, true, 1n])
      expect(isRecord(value)).toBe(false);
  });
});
