import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanCompletion } from '../../src/core/json-scan.js';

/** The fast path's scan of a chat completion's text: it finds what JSON.parse would find. */

describe('scanCompletion', () => {
  it('finds the top-level usage and choices of any object, however it is laid out', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.jsonValue(),
        fc.array(fc.jsonValue(), { maxLength: 3 }),
        fc.constantFrom(undefined, 0, 1, 2, '\t'),
        (rest, usage, choices, indent) => {
          const value = { ...rest, choices, usage };
          const text = JSON.stringify(value, null, indent);
          const scan = scanCompletion(text);
          expect(scan).toBeDefined();
          const parsed = JSON.parse(text) as Record<string, unknown>;
          expect(scan!.choices).toBe(Array.isArray(parsed['choices']));
          const span = scan!.usage!;
          expect(JSON.parse(text.slice(span.start, span.end))).toEqual(parsed['usage']);
        },
      ),
    );
  });

  it('refuses what JSON.parse refuses at the top level', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.nat(), (value, cut) => {
        const text = JSON.stringify({ ...value, choices: [] });
        const short = text.slice(0, cut % text.length);
        expect(scanCompletion(short)).toBeUndefined();
      }),
    );
    for (const text of ['[]', '"x"', '{"a":1}x', '{"a" 1}', '{"a":1,}', '{a:1}', ''])
      expect(scanCompletion(text)).toBeUndefined();
  });

  it('counts a repeated member as JSON.parse does (the last one) and ignores nested ones', () => {
    const text =
      '{"usage":{"a":1},"x":{"usage":{"b":2}},"choices":{},"choices":[],"usage":{"c":3}}';
    const scan = scanCompletion(text)!;
    expect(scan.choices).toBe(true);
    expect(JSON.parse(text.slice(scan.usage!.start, scan.usage!.end))).toEqual({ c: 3 });
  });
});
