import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database, migrate } from '../../src/store/index.js';
import {
  agentConfig,
  type ScriptedModel,
  startMcpServer,
  startScriptedModel,
  type TestMcpServer,
  waitFor,
} from '../agent/helpers.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import {
  http,
  openAIFamilyProviders,
  pinned,
  type RunningApp,
  startApp,
  startOpenAIFamilyClouds,
  TENANT_A_KEY,
} from './helpers.js';

/**
 * Deletion and retention are real: after DELETE, and after expiry plus a sweep, no API returns
 * a stored object and no column of any table holds the input's plaintext. Every scenario puts a
 * unique marker in its input (the scripted model echoes it into the output too) and then reads
 * every row of every table of the database, on SQLite and on Postgres.
 */

const DAY = 86_400_000;
const pg = await pgTestUrl();
if (!pg) console.warn(PG_SKIP_MESSAGE);
afterAll(async () => {
  await pg?.drop();
});

const backends: Array<{ name: string; url: string }> = [{ name: 'sqlite', url: 'sqlite::memory:' }];
if (pg) backends.push({ name: 'postgres', url: pg.url });

const marker = (label: string) => `MARK${label}${randomBytes(6).toString('hex')}`;

/** Every table of the database, read whole: `table.column` of each cell that contains `needle`. */
async function findEverywhere(database: Database, needle: string): Promise<string[]> {
  const tables =
    database.dialect === 'sqlite'
      ? await sql<{
          name: string;
        }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(
          database.db,
        )
      : await sql<{
          name: string;
        }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(
          database.db,
        );
  expect(tables.rows.map((row) => row.name)).toEqual(
    expect.arrayContaining([
      'runtime_responses',
      'runtime_items',
      'runtime_response_events',
      'runtime_conversations',
      'agent_runs',
      'usage_events',
      'ledger_transactions',
    ]),
  );
  const hits: string[] = [];
  for (const { name } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(
      database.db,
    );
    for (const row of rows.rows)
      for (const [column, value] of Object.entries(row)) {
        const text =
          value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : String(value);
        if (text.includes(needle)) hits.push(`${name}.${column}`);
      }
  }
  return hits;
}

describe.each(backends)('deletion and retention ($name)', ({ url }) => {
  let now = Date.UTC(2030, 0, 1);
  let database: Database;
  let model: ScriptedModel;
  let mcp: TestMcpServer;
  let clouds: Awaited<ReturnType<typeof startOpenAIFamilyClouds>>;
  let app: RunningApp;
  let client: OpenAI;
  beforeAll(async () => {
    database = await createDatabase(url);
    await migrate(database);
    model = await startScriptedModel();
    mcp = await startMcpServer();
    clouds = await startOpenAIFamilyClouds();
    const config = agentConfig(model.url, { workerIntervalMs: 0 });
    app = await startApp(
      {
        ...config,
        // The scripted model answers JSON only; streams go to the OpenAI emulator.
        providers: { ...config.providers, ...openAIFamilyProviders(clouds) },
        models: { ...config.models, 'azure-mini': pinned('azure-east') },
        runtime: {
          ...config.runtime,
          retentionDays: 1,
          conversationRetentionDays: 2,
          sweepIntervalMs: 0,
        },
      },
      { database, clock: () => now },
    );
    client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await model?.close();
    await mcp?.close();
    await clouds?.close();
    await database?.close();
  });

  const finished = (id: string) =>
    waitFor(async () => {
      const current = await client.responses.retrieve(id);
      return ['completed', 'failed', 'cancelled', 'incomplete'].includes(current.status ?? '')
        ? current
        : undefined;
    }, 20_000);
  const gone = async (id: string) => {
    expect((await http(`${app.url}/v1/responses/${id}`, { key: TENANT_A_KEY })).status).toBe(404);
    expect(
      (await http(`${app.url}/v1/responses/${id}?stream=true`, { key: TENANT_A_KEY })).status,
    ).toBe(404);
    expect(
      (await http(`${app.url}/v1/responses/${id}/input_items`, { key: TENANT_A_KEY })).status,
    ).toBe(404);
  };
  const usageRows = async (requestIds: string[]) =>
    (
      await sql<{
        n: number | string | bigint;
      }>`select count(*) as n from usage_events where request_id in (${sql.join(requestIds)})`.execute(
        database.db,
      )
    ).rows[0]!.n;

  it('DELETE removes stored responses (plain, streamed, background) and their runs from every table', async () => {
    const plain = marker('plain');
    const streamed = marker('stream');
    const background = marker('bg');
    const first = await client.responses.create({ model: 'fake', input: plain, store: true });
    expect(first.output_text).toContain(plain);
    const stream = await client.responses.create({
      model: 'azure-mini',
      input: `say ${streamed}`,
      stream: true,
    });
    let streamId = '';
    for await (const event of stream)
      if (event.type === 'response.completed') streamId = event.response.id;
    const queued = await client.responses.create({
      model: 'fake',
      input: background,
      background: true,
    });
    expect((await finished(queued.id)).output_text).toContain(background);
    for (const needle of [plain, streamed, background])
      expect((await findEverywhere(database, needle)).length).toBeGreaterThan(0);

    for (const id of [first.id, streamId, queued.id]) {
      expect(await client.responses.delete(id)).toMatchObject({ id, deleted: true });
      await gone(id);
    }
    // A second DELETE finds nothing.
    expect(
      (await http(`${app.url}/v1/responses/${queued.id}`, { method: 'DELETE', key: TENANT_A_KEY }))
        .status,
    ).toBe(404);
    for (const needle of [plain, streamed, background])
      expect(await findEverywhere(database, needle)).toEqual([]);
  });

  it('DELETE of a running background response stops it and leaves nothing behind, tool secrets included', async () => {
    const input = marker('running');
    const secret = marker('secret');
    const created = await client.responses.create({
      model: 'fake',
      input: `${input} CALL slow {"ms":400,"tag":"a"}; CALL slow {"ms":400,"tag":"b"}`,
      background: true,
      tools: [
        {
          type: 'mcp',
          server_label: 'calc',
          server_url: mcp.url,
          require_approval: 'never',
          headers: { 'x-tool-secret': secret },
        },
      ],
    });
    await waitFor(() => (mcp.calls.some((call) => call.args['tag'] === 'a') ? true : undefined));
    expect((await findEverywhere(database, input)).length).toBeGreaterThan(0);
    const deleted = await http(`${app.url}/v1/responses/${created.id}`, {
      method: 'DELETE',
      key: TENANT_A_KEY,
    });
    expect(deleted.status).toBe(200);
    expect(deleted.json()).toEqual({ id: created.id, object: 'response', deleted: true });
    // The run was stopped: the in-flight call ends, the next step never starts.
    await waitFor(() =>
      mcp.calls.filter((call) => call.args['tag'] === 'a').every((call) => call.finished)
        ? true
        : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(mcp.calls.some((call) => call.args['tag'] === 'b')).toBe(false);
    await gone(created.id);
    expect(await findEverywhere(database, input)).toEqual([]);
    expect(await findEverywhere(database, secret)).toEqual([]);
  });

  it('DELETE of a conversation removes the items it owns; DELETE of an item removes it', async () => {
    const seeded = marker('seed');
    const unstored = marker('unstored');
    const added = marker('added');
    const conversation = await client.conversations.create({
      items: [{ type: 'message', role: 'user', content: seeded }],
    });
    await client.responses.create({
      model: 'fake',
      input: unstored,
      conversation: conversation.id,
      store: false,
    });
    const list = await client.conversations.items.create(conversation.id, {
      items: [{ type: 'message', role: 'user', content: added }],
    });
    const addedId = (list.data[0] as { id: string }).id;
    await client.conversations.items.delete(addedId, { conversation_id: conversation.id });
    expect(await findEverywhere(database, added)).toEqual([]);

    expect((await findEverywhere(database, seeded)).length).toBeGreaterThan(0);
    await client.conversations.delete(conversation.id);
    await expect(client.conversations.retrieve(conversation.id)).rejects.toMatchObject({
      status: 404,
    });
    expect(await findEverywhere(database, seeded)).toEqual([]);
    expect(await findEverywhere(database, unstored)).toEqual([]);
  });

  it('expiry hides everything at once and the sweep removes its content; usage rows stay', async () => {
    const plain = marker('xplain');
    const background = marker('xbg');
    const inConversation = marker('xconv');
    const first = await client.responses.create({ model: 'fake', input: plain });
    const queued = await client.responses.create({
      model: 'fake',
      input: background,
      background: true,
    });
    await finished(queued.id);
    const conversation = await client.conversations.create({
      items: [{ type: 'message', role: 'user', content: inConversation }],
    });
    const requestIds = [first._request_id, queued._request_id].filter(
      (id): id is string => typeof id === 'string',
    );

    now += DAY + 1;
    await gone(first.id);
    await gone(queued.id);
    // The conversation lives two days.
    expect((await client.conversations.retrieve(conversation.id)).id).toBe(conversation.id);
    const swept = await app.app.runtime.sweeper.runOnce();
    expect(swept.runs).toBeGreaterThanOrEqual(1);
    expect(await findEverywhere(database, plain)).toEqual([]);
    expect(await findEverywhere(database, background)).toEqual([]);
    expect((await findEverywhere(database, inConversation)).length).toBeGreaterThan(0);

    now += DAY;
    await expect(client.conversations.retrieve(conversation.id)).rejects.toMatchObject({
      status: 404,
    });
    await app.app.runtime.sweeper.runOnce();
    expect(await findEverywhere(database, inConversation)).toEqual([]);
    // What is kept carries no content: the usage rows of the deleted requests.
    if (requestIds.length > 0) expect(Number(await usageRows(requestIds))).toBeGreaterThan(0);
  });
});
