import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database, migrate } from '../../src/store/index.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import {
  openAIFamilyProviders,
  pinned,
  type RunningApp,
  startApp,
  startOpenAIFamilyClouds,
  TENANT_A_KEY,
  TENANT_B_KEY,
} from './helpers.js';

/**
 * Chains are rebuilt from the store, never from process memory: two Switchyard replicas on one
 * database (a SQLite file, and Postgres with a pool per replica) continue each other's chains
 * and conversations, and keep tenants apart.
 */

const pgDatabase = await pgTestUrl();
const tempDir = mkdtempSync(join(tmpdir(), 'switchyard-replicas-'));
let clouds: Awaited<ReturnType<typeof startOpenAIFamilyClouds>>;

beforeAll(async () => {
  clouds = await startOpenAIFamilyClouds();
});
afterAll(async () => {
  await clouds.close();
  rmSync(tempDir, { recursive: true, force: true });
  await pgDatabase?.drop();
});

const stores: Array<{ name: string; open: () => Promise<[Database, Database]> }> = [
  {
    name: 'sqlite file (one handle shared in-process)',
    open: async () => {
      const database = await createDatabase(`sqlite:${join(tempDir, 'replicas.db')}`);
      return [database, database];
    },
  },
];
if (pgDatabase) {
  stores.push({
    name: 'postgres (a pool per replica)',
    open: async () => [await createDatabase(pgDatabase.url), await createDatabase(pgDatabase.url)],
  });
} else it.skip(PG_SKIP_MESSAGE, () => undefined);

describe.each(stores)('two replicas on $name', ({ open }) => {
  let databases: [Database, Database];
  let replicas: [RunningApp, RunningApp];
  const client = (index: 0 | 1, key = TENANT_A_KEY) =>
    new OpenAI({ baseURL: `${replicas[index].url}/v1`, apiKey: key, maxRetries: 0 });

  beforeAll(async () => {
    databases = await open();
    await migrate(databases[0]);
    const config = {
      providers: openAIFamilyProviders(clouds),
      models: { 'azure-mini': pinned('azure-east'), 'openai-mini': pinned('openai-direct') },
    };
    replicas = [
      await startApp(config, { database: databases[0] }),
      await startApp(config, { database: databases[1] }),
    ];
  });
  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.close()));
    await Promise.all([...new Set(databases)].map((database) => database.close()));
  });

  it('continues a chain on the other replica, turn after turn', async () => {
    let previous = await client(0).responses.create({
      model: 'azure-mini',
      input: 'Remember "kestrel". say ok',
    });
    for (let turn = 1; turn <= 6; turn++) {
      const replica = (turn % 2) as 0 | 1;
      previous = await client(replica).responses.create({
        model: turn % 3 === 0 ? 'openai-mini' : 'azure-mini',
        previous_response_id: previous.id,
        input: `say turn ${turn}`,
      });
      expect(previous.output_text).toBe(`turn ${turn}`);
    }
    const sent = [...clouds.azure.bodies(), ...clouds.openai.bodies()].at(-1)!;
    expect(JSON.stringify(sent)).toContain('kestrel');
    expect((await client(1).responses.retrieve(previous.id)).id).toBe(previous.id);
    expect((await client(0).responses.inputItems.list(previous.id)).data).toHaveLength(1);
  });

  it('shares conversations between replicas and keeps other tenants out', async () => {
    const conversation = await client(0).conversations.create({
      items: [{ type: 'message', role: 'user', content: 'The door code is 4711.' }],
    });
    await client(1).responses.create({
      model: 'openai-mini',
      conversation: conversation.id,
      input: 'say noted',
    });
    await client(0).responses.create({
      model: 'azure-mini',
      conversation: conversation.id,
      input: 'say again',
    });
    expect(JSON.stringify(clouds.azure.bodies().at(-1))).toContain('4711');
    const items = await client(1).conversations.items.list(conversation.id, { order: 'asc' });
    expect(items.data).toHaveLength(5);
    await expect(
      client(1, TENANT_B_KEY).conversations.items.list(conversation.id),
    ).rejects.toMatchObject({ status: 404 });
    await expect(
      client(0, TENANT_B_KEY).responses.create({
        model: 'azure-mini',
        conversation: conversation.id,
        input: 'x',
      }),
    ).rejects.toMatchObject({ status: 404 });
  });
});
