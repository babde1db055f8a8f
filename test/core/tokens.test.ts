import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { o200kPieces, o200kTokens } from '../../src/core/tokens.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const module = (path: string) => JSON.stringify(pathToFileURL(join(ROOT, path)).href);

describe('o200k token counts (core/tokens.ts)', () => {
  it('counts as the ESM build encodes, with special-token strings as plain text', () => {
    for (const text of [
      '',
      'hello world',
      'Grüße, 世界 🌍',
      'a <|endoftext|> b',
      'x'.repeat(5000),
    ]) {
      const expected = encode(text, { disallowedSpecial: new Set() }).length;
      expect(o200kTokens(text)).toBe(expected);
    }
    expect(o200kTokens('<|endoftext|>')).toBeGreaterThan(1);
  });

  it('splits text into pieces that concatenate back to it, multi-byte characters whole', () => {
    for (const text of ['Hello world', 'naïve café', '🌍🌍 emoji, 世界', '']) {
      const pieces = o200kPieces(text);
      expect(pieces.join('')).toBe(text);
      for (const piece of pieces) expect(piece).not.toContain('\uFFFD');
    }
    expect(o200kPieces('Hello world')).toEqual(['Hello', ' world']);
  });

  it('is not loaded by starting the gateway or proxying a request, only when a count is asked for', () => {
    // A child process, so nothing this test file imported counts: the gateway starts, proxies a
    // non-streaming and a streaming chat to a local upstream, and only then counts tokens.
    const script = `
      import { createServer } from 'node:http';
      import { createRequire } from 'node:module';
      const { createApp } = await import(${module('src/app.ts')});
      const { validateConfig } = await import(${module('src/config/index.ts')});
      const { o200kTokens } = await import(${module('src/core/tokens.ts')});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('gpt-tokenizer'));
      const completion = { id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } };
      const upstream = createServer((request, response) => {
        let body = '';
        request.on('data', (chunk) => (body += chunk));
        request.on('end', () => {
          if (!JSON.parse(body).stream) return response.end(JSON.stringify(completion));
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          const chunk = { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: 'stop' }] };
          const usage = { ...chunk, choices: [], usage: completion.usage };
          response.end('data: ' + JSON.stringify(chunk) + '\\n\\ndata: ' + JSON.stringify(usage) + '\\n\\ndata: [DONE]\\n\\n');
        });
      }).listen(0, '127.0.0.1');
      await new Promise((resolve) => upstream.once('listening', resolve));
      const config = validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        store: 'sqlite::memory:',
        auth: { masterKey: 'sk-master' },
        logging: { level: 'warn' },
        providers: { up: { type: 'openai', baseUrl: 'http://127.0.0.1:' + upstream.address().port + '/v1', apiKey: 'sk-up' } },
        models: { m: { deployments: [{ provider: 'up', model: 'm' }] } },
      });
      const app = await createApp({ config });
      const { url } = await app.listen(0, '127.0.0.1');
      const statuses = [];
      for (const stream of [false, true]) {
        const response = await fetch(url + '/v1/chat/completions', {
          method: 'POST',
          headers: { authorization: 'Bearer sk-master', 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hello' }] }),
        });
        await response.text();
        statuses.push(response.status);
      }
      const afterRequests = loaded();
      const count = o200kTokens('hello world');
      console.log(JSON.stringify({ statuses, afterRequests, count, afterCount: loaded() }));
      await app.close();
      upstream.close();
    `;
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(child.stderr).not.toMatch(/Error/);
    const report = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
    expect(report).toEqual({
      statuses: [200, 200],
      afterRequests: false,
      count: 2,
      afterCount: true,
    });
  });

  it('is imported by no module but core/tokens.ts (a static import would load it at start-up)', () => {
    const offenders: string[] = [];
    const walk = (directory: string) => {
      for (const entry of readdirSync(directory, { withFileTypes: true })) {
        const path = join(directory, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !path.endsWith(join('core', 'tokens.ts'))) {
          if (/from ['"]gpt-tokenizer/.test(readFileSync(path, 'utf8'))) offenders.push(path);
        }
      }
    };
    walk(join(ROOT, 'src'));
    expect(offenders).toEqual([]);
  });
});
