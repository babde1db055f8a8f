import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bedrockConverseValidator, openAIChatValidator } from '../helpers/provider-schemas.js';
import {
  MASTER_KEY,
  type Matrix,
  MODEL,
  PROVIDERS,
  type ProviderName,
  startMatrix,
} from './clouds.js';

/**
 * Issue 21: requests recorded from real clients (Claude Code and Codex CLI by
 * scripts/coding-agents.sh, LangChain JS's ChatOpenAI over Chat Completions and Responses and
 * ChatAnthropic by scripts/langchain-capture.sh, the AI SDK against a loopback recorder; each
 * names how in its `captured` field) replayed as sent through every provider, with only the model
 * changed. Each must succeed, and every upstream request it causes must conform to the
 * provider's published request shape (OpenAI, Azure, Bedrock: validated against the spec) and
 * carry none of Switchyard's internal extensions (all providers).
 */

interface Fixture {
  client: string;
  captured: string;
  method: string;
  path: string;
  body: Record<string, unknown>;
}

const DIR = join(import.meta.dirname, '..', 'fixtures', 'agents');
const FIXTURES = readdirSync(DIR)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => [name, JSON.parse(readFileSync(join(DIR, name), 'utf8')) as Fixture] as const);

const VALIDATORS: Partial<Record<ProviderName, (body: unknown) => string[]>> = {
  openai: openAIChatValidator('openai'),
  'azure-openai': openAIChatValidator('azure'),
  bedrock: bedrockConverseValidator(),
};
/** Extension members that exist only inside Switchyard (src/core/chat.ts) or only for one client. */
const INTERNAL = [
  'reasoning_budget_tokens',
  'reasoning_mode',
  'reasoning_signature',
  'reasoning_content',
  'provider_options',
  'client_metadata',
  'input_usage',
];

let matrix: Matrix;
beforeAll(async () => {
  matrix = await startMatrix();
});
afterAll(async () => {
  await matrix?.close();
});

function headersFor(path: string): Record<string, string> {
  return path.startsWith('/v1/messages')
    ? { 'x-api-key': MASTER_KEY, 'anthropic-version': '2023-06-01' }
    : { authorization: `Bearer ${MASTER_KEY}` };
}

it('holds only recorded requests, none reconstructed by hand', () => {
  for (const [name, fixture] of FIXTURES)
    expect(`${name}: ${fixture.captured}`).toMatch(/: (recorded|scripts\/coding-agents\.sh)/);
  // LangChain: both turns (a tool call, then the tool's result streamed) of all three clients.
  expect(FIXTURES.filter(([name]) => name.startsWith('langchain-')).map(([name]) => name)).toEqual([
    'langchain-anthropic-1.json',
    'langchain-anthropic-2.json',
    'langchain-openai-chat-1.json',
    'langchain-openai-chat-2.json',
    'langchain-openai-responses-1.json',
    'langchain-openai-responses-2.json',
  ]);
});

describe.each(FIXTURES)('%s', (_name, fixture) => {
  it.each(PROVIDERS)('replays through %s', async (provider) => {
    const before = matrix.sent.length;
    const response = await fetch(`${matrix.url}${fixture.path}`, {
      method: fixture.method,
      headers: { 'content-type': 'application/json', ...headersFor(fixture.path) },
      body: JSON.stringify({ ...fixture.body, model: MODEL[provider] }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    expect(response.status, text.slice(0, 500)).toBe(200);
    // A stream that failed after its first byte says so in an error event.
    expect(text).not.toMatch(/^event: error$|"type":"error"|"type":"response\.failed"/m);
    const sent = matrix.sent.slice(before).filter((request) => request.provider === provider);
    expect(sent.length).toBeGreaterThan(0);
    for (const request of sent) {
      const validate = VALIDATORS[provider];
      if (validate) expect(validate(request.body), request.url).toEqual([]);
      for (const member of INTERNAL) expect(request.text).not.toContain(`"${member}"`);
    }
    if (Array.isArray(fixture.body['tools']))
      for (const tool of fixture.body['tools'] as Array<{ type?: string }>)
        if (tool.type === 'web_search')
          expect(response.headers.get('x-switchyard-warnings')).toContain('web_search');
  });
});
