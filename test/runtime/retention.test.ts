import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openAIFamilyProviders,
  pinned,
  type RunningApp,
  startApp,
  startOpenAIFamilyClouds,
  TENANT_A_KEY,
} from './helpers.js';

/**
 * Retention: stored responses and conversations live for their configured time, read as gone
 * once expired, and the background sweep deletes them.
 */

const DAY = 86_400_000;
let clouds: Awaited<ReturnType<typeof startOpenAIFamilyClouds>>;

beforeAll(async () => {
  clouds = await startOpenAIFamilyClouds();
});
afterAll(async () => {
  await clouds.close();
});

describe('retention', () => {
  let now = Date.UTC(2030, 0, 1);
  let app: RunningApp;
  let client: OpenAI;
  beforeAll(async () => {
    app = await startApp(
      {
        providers: openAIFamilyProviders(clouds),
        models: { 'azure-mini': pinned('azure-east') },
        runtime: { retentionDays: 1, conversationRetentionDays: 2, sweepIntervalMs: 0 },
      },
      { clock: () => now },
    );
    client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await app.close();
  });

  it('expires responses after retentionDays and conversations after conversationRetentionDays', async () => {
    const response = await client.responses.create({ model: 'azure-mini', input: 'say keep' });
    const conversation = await client.conversations.create({
      items: [{ type: 'message', role: 'user', content: 'hello' }],
    });
    const inConversation = await client.responses.create({
      model: 'azure-mini',
      conversation: conversation.id,
      input: 'say in conversation',
    });

    now += DAY - 1;
    expect((await client.responses.retrieve(response.id)).id).toBe(response.id);

    now += 2;
    // Expired: gone for reads and chaining even before the sweep runs.
    await expect(client.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
    await expect(
      client.responses.create({
        model: 'azure-mini',
        previous_response_id: response.id,
        input: 'x',
      }),
    ).rejects.toMatchObject({ status: 400 });
    // The conversation lives longer, with the items the expired response added to it.
    expect((await client.conversations.items.list(conversation.id)).data).toHaveLength(3);

    const repository = app.app.runtime.repository;
    const first = await app.app.runtime.sweeper.runOnce();
    expect(first.responses).toBeGreaterThanOrEqual(2);
    expect(await repository.getResponse('tenant-a', response.id, 0)).toBeUndefined();
    expect(await repository.getResponse('tenant-a', inConversation.id, 0)).toBeUndefined();
    expect((await client.conversations.items.list(conversation.id)).data).toHaveLength(3);

    now += DAY;
    await expect(client.conversations.retrieve(conversation.id)).rejects.toMatchObject({
      status: 404,
    });
    const second = await app.app.runtime.sweeper.runOnce();
    expect(second.conversations).toBe(1);
    expect(second.items).toBeGreaterThanOrEqual(3);
    const outputId = (inConversation.output[0] as { id: string }).id;
    expect((await repository.findItems('tenant-a', [outputId], 0)).size).toBe(0);
  });
});

describe('the background sweep', () => {
  it('runs on its interval while the app listens', async () => {
    const app = await startApp({
      providers: openAIFamilyProviders(clouds),
      models: { 'azure-mini': pinned('azure-east') },
      // About 40 ms of life, swept every 20 ms.
      runtime: { retentionDays: 40 / DAY, sweepIntervalMs: 20 },
    });
    try {
      const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
      const response = await client.responses.create({ model: 'azure-mini', input: 'say brief' });
      const deadline = Date.now() + 5000;
      while (
        (await app.app.runtime.repository.getResponse('tenant-a', response.id, 0)) !== undefined &&
        Date.now() < deadline
      )
        await sleep(20);
      expect(
        await app.app.runtime.repository.getResponse('tenant-a', response.id, 0),
      ).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
