import { APIError, AzureOpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { createPtuWindow } from '../../src/sandbox/ptu.js';

/**
 * The sandbox Azure's provisioned (PTU) deployment: a tokens-per-minute capacity admitted on
 * prompt tokens plus max_tokens, answered with Azure's 429 and headers once used, while other
 * deployments of the same resource are unaffected.
 */

const apiKey = 'azure-ptu-sandbox-key';
let emulator: Emulator;
let azure: AzureOpenAI;

beforeAll(async () => {
  emulator = await startOpenAIEmulator({ flavor: 'azure', apiKey, ptu: { 'ptu-small': 60 } });
  azure = new AzureOpenAI({
    endpoint: emulator.url,
    apiKey,
    apiVersion: '2024-10-21',
    maxRetries: 0,
  });
});
afterAll(() => emulator.close());

const ask = (model: string) =>
  azure.chat.completions
    .create({ model, max_tokens: 10, messages: [{ role: 'user', content: 'one two three four' }] })
    .withResponse();

describe('sandbox Azure PTU deployment', () => {
  it('answers with its remaining tokens, then 429 with retry-after-ms once the minute is used', async () => {
    const first = await ask('ptu-small');
    const used = first.data.usage!.prompt_tokens + first.data.usage!.completion_tokens;
    expect(first.response.headers.get('x-ratelimit-limit-tokens')).toBe('60');
    expect(first.response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(60 - used));
    let refused: APIError | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      try {
        await ask('ptu-small');
      } catch (error) {
        if (!(error instanceof APIError)) throw error;
        refused = error;
      }
    }
    expect(refused?.status).toBe(429);
    const headers = refused!.headers!;
    expect(Number(headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(
      // Admission needs the prompt plus max_tokens (10) to fit.
      first.data.usage!.prompt_tokens + 10,
    );
    expect((refused!.error as { code?: string }).code).toBe('429');
    // Other deployments of the resource are pay-as-you-go: not limited.
    for (let i = 0; i < 5; i++) expect((await ask('standard')).response.status).toBe(200);
  });

  it('frees tokens as they leave the 60 s window', () => {
    let now = 1_000_000;
    const window = createPtuWindow(100, () => now);
    window.settle(window.admit(50), 40);
    now += 30_000;
    window.admit(60);
    expect(window.remaining()).toBe(0);
    expect(() => window.admit(1)).toThrow();
    let thrown: unknown;
    try {
      window.admit(30);
    } catch (error) {
      thrown = error;
    }
    // The first entry (40 tokens) leaves the window 30 s later: then 30 fit.
    expect((thrown as { headers: Record<string, string> }).headers['retry-after-ms']).toBe('30000');
    now += 30_000;
    expect(window.remaining()).toBe(40);
    window.admit(40);
    expect(window.remaining()).toBe(0);
  });
});
