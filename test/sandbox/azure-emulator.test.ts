import OpenAI, { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedText } from '../../src/sandbox/embeddings.js';
import { startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import type { Emulator } from '../../src/sandbox/openai-emulator.js';

const apiKey = 'azure-sandbox-key';
const apiVersion = '2024-10-21';

let emulator: Emulator;
let azure: AzureOpenAI;

beforeAll(async () => {
  emulator = await startOpenAIEmulator({ flavor: 'azure', apiKey });
  azure = new AzureOpenAI({ endpoint: emulator.url, apiKey, apiVersion, maxRetries: 0 });
});
afterAll(() => emulator.close());

async function rawPost(
  path: string,
  body: unknown,
  headers: Record<string, string> = { 'api-key': apiKey },
) {
  const response = await fetch(`${emulator.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

describe('Azure OpenAI emulator', () => {
  it('serves the classic deployment surface to the AzureOpenAI SDK class', async () => {
    const completion = await azure.chat.completions.create({
      model: 'prod-gpt4o',
      messages: [{ role: 'user', content: 'reply with ready' }],
    });
    expect(completion.model).toBe('prod-gpt4o');
    expect(completion.choices[0]?.message.content).toBe('ready');
    const raw = completion as unknown as Record<string, unknown>;
    expect(raw['prompt_filter_results']).toEqual([
      expect.objectContaining({
        prompt_index: 0,
        content_filter_results: expect.objectContaining({
          jailbreak: { filtered: false, detected: false },
        }),
      }),
    ]);
    expect(
      (completion.choices[0] as unknown as Record<string, unknown>)['content_filter_results'],
    ).toMatchObject({
      hate: { filtered: false, severity: 'safe' },
    });
  });

  it('streams with the Azure first chunk, which the SDK stream helper tolerates', async () => {
    const final = await azure.chat.completions
      .stream({ model: 'prod-gpt4o', messages: [{ role: 'user', content: 'say streamed answer' }] })
      .finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe('streamed answer');
    expect(final.choices[0]?.finish_reason).toBe('stop');

    const { status, text } = await rawPost(
      `/openai/deployments/prod-gpt4o/chat/completions?api-version=${apiVersion}`,
      {
        messages: [{ role: 'user', content: 'say hi' }],
        stream: true,
        stream_options: { include_usage: true },
      },
    );
    expect(status).toBe(200);
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>);
    expect(chunks[0]).toMatchObject({
      choices: [],
      id: '',
      model: '',
      created: 0,
      prompt_filter_results: expect.any(Array),
    });
    expect(chunks[1]).toMatchObject({
      model: 'prod-gpt4o',
      choices: [{ delta: { role: 'assistant' }, content_filter_results: {} }],
    });
    expect(chunks[2]).toMatchObject({
      choices: [
        { delta: { content: 'hi' }, content_filter_results: { violence: { filtered: false } } },
      ],
    });
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: expect.any(Number) },
    });
    expect(chunks.some((c) => 'obfuscation' in c)).toBe(false);
  });

  it('serves /openai/v1 to the plain OpenAI class with Bearer auth', async () => {
    const v1 = new OpenAI({ baseURL: `${emulator.url}/openai/v1`, apiKey, maxRetries: 0 });
    const completion = await v1.chat.completions.create({
      model: 'prod-gpt4o',
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(completion.model).toBe('prod-gpt4o');
    expect(completion.choices[0]?.message.content).toBe('You said: hello');
    const embeddings = await v1.embeddings.create({
      model: 'embed-deploy',
      input: 'x',
      encoding_format: 'float',
    });
    expect(embeddings.data[0]?.embedding).toEqual(Array.from(embedText('x')));
  });

  it('serves embeddings on the classic deployment surface', async () => {
    const result = await azure.embeddings.create({ model: 'embed-deploy', input: ['a', 'b'] });
    expect(result.model).toBe('embed-deploy');
    expect(result.data.map((d) => d.embedding)).toEqual([
      Array.from(embedText('a')),
      Array.from(embedText('b')),
    ]);
  });

  it('answers 400 content_filter for a forbidden prompt', async () => {
    const error = await azure.chat.completions
      .create({
        model: 'prod-gpt4o',
        messages: [{ role: 'user', content: 'tell me forbidden-content now' }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({
      status: 400,
      code: 'content_filter',
      error: {
        innererror: {
          code: 'ResponsibleAIPolicyViolation',
          content_filter_result: { hate: { filtered: true } },
        },
      },
    });
  });

  it('requires api-version on the classic surface and a valid key', async () => {
    const noVersion = await rawPost('/openai/deployments/prod-gpt4o/chat/completions', {
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(noVersion.status).toBe(404);
    expect(JSON.parse(noVersion.text)).toEqual({
      error: { code: '404', message: 'Resource not found' },
    });
    const badVersion = await rawPost(
      '/openai/deployments/d/chat/completions?api-version=yesterday',
      { messages: [] },
    );
    expect(badVersion.status).toBe(400);
    const wrongKey = new AzureOpenAI({
      endpoint: emulator.url,
      apiKey: 'nope',
      apiVersion,
      maxRetries: 0,
    });
    await expect(
      wrongKey.chat.completions.create({ model: 'd', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toMatchObject({ status: 401 });
    const bearer = await rawPost(
      `/openai/deployments/d/chat/completions?api-version=${apiVersion}`,
      { messages: [{ role: 'user', content: 'x' }] },
      { authorization: `Bearer ${apiKey}` },
    );
    expect(bearer.status).toBe(200);
    const invalid = await rawPost(
      `/openai/deployments/d/chat/completions?api-version=${apiVersion}`,
      { messages: 'hi' },
    );
    expect(JSON.parse(invalid.text)).toMatchObject({
      error: { param: 'messages', code: 'invalid_type' },
    });
  });

  it('answers 503 while down', async () => {
    emulator.setDown(true);
    try {
      await expect(
        azure.chat.completions.create({ model: 'd', messages: [{ role: 'user', content: 'x' }] }),
      ).rejects.toMatchObject({ status: 503 });
    } finally {
      emulator.setDown(false);
    }
  });
});
