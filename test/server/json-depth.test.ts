import { describe, expect, it } from 'vitest';
import { tooDeepAt } from '../../src/server/json-depth.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('tooDeepAt', () => {
  it('passes a body within the limit', () => {
    expect(tooDeepAt(bytes('{"model":"m","messages":[{"role":"user","content":"hi"}]}'), 4)).toBe(
      undefined,
    );
  });

  it('names the path of the first value too deep: keys (UTF-8, escaped quotes) and indexes', () => {
    const body = '{"model":"m","mé\\"ta":{"x":1},"tools":[1,2,{"fn":{"p":[[[0]]]}}]}';
    expect(tooDeepAt(bytes(body), 5)).toBe('tools[2].fn.p[0]');
    expect(tooDeepAt(bytes('{"mé\\"ta":{"a":[{}]}}'), 3)).toBe('mé\\"ta.a[0]');
  });

  it('elides a path past its first levels, and names a bare nest as the body', () => {
    expect(tooDeepAt(bytes('{"a":{"b":{"c":{"d":{"e":{"f":{"g":{}}}}}}}}'), 7)).toBe(
      'a.b.c.d.e.f…',
    );
    expect(tooDeepAt(bytes('[[[]]]'), 1)).toBe('[0]');
    expect(tooDeepAt(bytes('{"":{}}'), 1)).toBe('(body)');
  });
});
