import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainPathname } from '../../src/core/plain-path.js';
import { targetOf } from '../../src/transport/http.js';

/**
 * The server routes on `plainPathname(target)` when it answers, else on the URL parser's
 * pathname. Whenever it answers it must agree with the parser: a disagreement would route a
 * request somewhere the parser would not (`/v1/../admin`, `//host`, `%2e%2e`, a backslash).
 */
const parsed = (target: string) => new URL(target, 'http://localhost').pathname;

describe('plainPathname', () => {
  it('answers the plain targets the gateway serves, as the URL parser does', () => {
    for (const target of [
      '/v1/chat/completions',
      '/v1/responses/resp_01J?stream=true&starting_after=3',
      '/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse-stream',
      '/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
      '/admin/keys/key_1',
    ]) {
      expect(plainPathname(target)).toBe(parsed(target));
    }
  });

  it('leaves to the parser what it would change', () => {
    for (const target of [
      '/v1/../admin',
      '/v1/./chat',
      '/v1/%2e%2e/admin',
      '/v1/.%2E/admin',
      '/v1/%zz',
      '//evil.example/v1',
      '/v1\\chat',
      '/v1/chat completions',
      '/v1/é',
      '/v1/chat#x',
      '/v1/chat\t',
      'v1/chat',
      '',
    ]) {
      expect(plainPathname(target)).toBeUndefined();
    }
  });

  it('agrees with the URL parser on any target it answers', () => {
    const char = fc.constantFrom(
      ...'/./..//%2e%2E\\ \t#?é:@!$&\'()*+,;=~-_azAZ09[]{}|^`"<>'.split(''),
      '/..',
      '/.',
      '%2e',
      '%2F',
      '%3A',
      '%',
    );
    fc.assert(
      fc.property(fc.array(char, { maxLength: 24 }), (chars) => {
        const target = `/${chars.join('')}`;
        const fast = plainPathname(target);
        if (fast !== undefined) expect(fast).toBe(parsed(target));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('targetOf (the upstream request target, without a URL per request)', () => {
  const viaParser = (url: string) => {
    const parsed = new URL(url);
    return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
  };

  it('splits the URLs the adapters build as undici would', () => {
    for (const url of [
      'https://api.openai.com/v1/chat/completions',
      'http://127.0.0.1:8080/v1/chat/completions',
      'https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
      'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream',
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse',
      'HTTPS://API.Example.COM:443/v1/x',
    ]) {
      expect(targetOf(url)).toEqual(viaParser(url));
    }
  });

  it('agrees with the URL parser on any URL it answers', () => {
    const char = fc.constantFrom(
      ...'/./..%2e\\ #?é:@!$&\'()*+,;=~-_aZ09[]{}"<>'.split(''),
      '/..',
      '%2F',
      '%3a',
      '%',
      '?a=b',
    );
    const prefix = fc.constantFrom(
      'http://h',
      'https://H:443',
      'http://h:8080',
      'http://user:pw@h',
      'http://[::1]:9',
    );
    fc.assert(
      fc.property(prefix, fc.array(char, { maxLength: 20 }), (origin, chars) => {
        const url = `${origin}/${chars.join('')}`;
        const fast = targetOf(url);
        if (fast !== undefined) expect(fast).toEqual(viaParser(url));
      }),
      { numRuns: 3000 },
    );
  });
});
