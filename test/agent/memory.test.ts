import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStore, MemoryError, noteId } from '../../src/runtime/tools/memory-store.js';
import { runMemoryCall } from '../../src/runtime/tools/memory-tool.js';
import { type Database, migrate } from '../../src/store/index.js';
import {
  http,
  MASTER_KEY,
  type RunningApp,
  startApp,
  TENANT_A_KEY,
  TENANT_B_KEY,
} from '../runtime/helpers.js';
import { agentConfig, startScriptedModel, storeBackends, waitFor } from './helpers.js';

/**
 * The built-in memory tool (`tools: [{type: "memory"}]`): its store (limits, search, tenant
 * isolation, concurrent writers) and end-to-end runs over real sockets with the openai SDK and
 * the scripted model — a fact written in one conversation is read in another, never by another
 * tenant or user — plus the operators' admin API. On SQLite and on Postgres.
 */

const stores = await storeBackends();

const LIMITS = { maxValueBytes: 64, maxEntriesPerUser: 10, maxBytesPerUser: 400 };
let unique = 0;
const fresh = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++unique}`;

describe.each(stores)('memory store on $name', ({ open }) => {
  let database: Database;
  beforeAll(async () => {
    database = await open();
    await migrate(database);
  });
  afterAll(async () => {
    await database.close();
  });

  it('keeps entries and notes per tenant and user; another tenant or user never sees them', async () => {
    const store = createMemoryStore(database, LIMITS);
    const tenant = fresh('t');
    const other = fresh('t');
    const alice = { tenantId: tenant, user: 'alice' };
    await store.set(alice, 'color', 'teal', 1000);
    await store.addNote(alice, 'Alice prefers short answers in French', 2000);
    expect(await store.get(alice, 'kv', 'color')).toMatchObject({
      value: 'teal',
      createdAt: 1000,
      updatedAt: 1000,
    });
    // Same user id in another tenant, another user in the same tenant: nothing.
    expect(await store.get({ tenantId: other, user: 'alice' }, 'kv', 'color')).toBeUndefined();
    expect(await store.get({ tenantId: tenant, user: 'bob' }, 'kv', 'color')).toBeUndefined();
    expect(await store.search({ tenantId: other, user: 'alice' }, 'french', { limit: 10 })).toEqual(
      [],
    );
    expect(await store.list({ tenantId: other, user: 'alice' }, { limit: 10 })).toEqual([]);
    expect(await store.users(other, { limit: 10 })).toEqual([]);
    expect(await store.clear(other)).toBe(0);
    expect(await store.usage(alice)).toEqual({
      entries: 2,
      bytes:
        'color'.length + 4 + noteId('x').length + 'Alice prefers short answers in French'.length,
    });
    expect(await store.users(tenant, { limit: 10 })).toEqual([
      {
        user: 'alice',
        entries: 1,
        notes: 1,
        bytes: (await store.usage(alice)).bytes,
        updatedAt: 2000,
      },
    ]);
    // Replacing keeps created_at and counts the entry once.
    await store.set(alice, 'color', 'navy', 3000);
    expect(await store.get(alice, 'kv', 'color')).toMatchObject({
      value: 'navy',
      createdAt: 1000,
      updatedAt: 3000,
    });
    expect((await store.usage(alice)).entries).toBe(2);
    // The same note twice is one note.
    await store.addNote(alice, 'Alice prefers short answers in French', 4000);
    expect((await store.usage(alice)).entries).toBe(2);
  });

  it('searches entries and notes by words, case-insensitively, best match first; LIKE wildcards are literal', async () => {
    const store = createMemoryStore(database, {
      ...LIMITS,
      maxEntriesPerUser: 50,
      maxBytesPerUser: 10_000,
    });
    const scope = { tenantId: fresh('t'), user: 'u' };
    await store.addNote(scope, 'Has a dog called Rex', 1);
    await store.addNote(scope, 'Allergic to peanuts; has a cat', 2);
    await store.addNote(scope, 'Discount code is 100% off_today', 3);
    await store.set(scope, 'pet_name', 'Rex the dog', 4);
    const found = await store.search(scope, 'DOG rex', { limit: 10 });
    expect(found.map((entry) => entry.value)).toEqual(['Rex the dog', 'Has a dog called Rex']);
    expect(
      (await store.search(scope, 'peanut allergy', { limit: 10 })).map((entry) => entry.value),
    ).toEqual(['Allergic to peanuts; has a cat']);
    expect((await store.search(scope, '100%', { limit: 10 })).map((entry) => entry.key)).toEqual([
      noteId('Discount code is 100% off_today'),
    ]);
    expect(await store.search(scope, '%%', { limit: 10 })).toEqual([]);
    expect(await store.search(scope, 'o_f', { limit: 10 })).toEqual([]);
    // No words: the most recent first.
    expect((await store.search(scope, '', { limit: 2 })).map((entry) => entry.updatedAt)).toEqual([
      4, 3,
    ]);
    expect(
      (await store.search(scope, 'dog', { kind: 'note', limit: 10 })).map((entry) => entry.kind),
    ).toEqual(['note']);
  });

  it('refuses writes past the limits with memory_limit_exceeded, changing nothing', async () => {
    const store = createMemoryStore(database, LIMITS);
    const scope = { tenantId: fresh('t'), user: 'u' };
    await expect(store.set(scope, 'big', 'x'.repeat(65), 1)).rejects.toMatchObject({
      code: 'memory_limit_exceeded',
      message: expect.stringContaining('runtime.memory.maxValueBytes'),
    });
    // Bytes are UTF-8: 22 × 3 bytes = 66 > 64.
    await expect(store.set(scope, 'big', '€'.repeat(22), 1)).rejects.toBeInstanceOf(MemoryError);
    for (let i = 0; i < 6; i++) await store.set(scope, `k${i}`, 'v'.repeat(60), 1);
    // 6 × 62 = 372 bytes; one more 62-byte entry would be 434 > 400.
    await expect(store.set(scope, 'k6', 'v'.repeat(60), 1)).rejects.toMatchObject({
      code: 'memory_limit_exceeded',
      message: expect.stringContaining('runtime.memory.maxBytesPerUser'),
    });
    // Replacing an entry with a smaller value fits.
    await store.set(scope, 'k0', 'small', 2);
    for (let i = 6; i < 10; i++) await store.set(scope, `k${i}`, 'v', 1);
    await expect(store.addNote(scope, 'one too many', 1)).rejects.toMatchObject({
      code: 'memory_limit_exceeded',
      message: expect.stringContaining('runtime.memory.maxEntriesPerUser'),
    });
    expect(await store.usage(scope)).toEqual({ entries: 10, bytes: 7 + 5 * 62 + 4 * 3 });
    await expect(store.set(scope, '', 'v', 1)).rejects.toMatchObject({
      code: 'invalid_memory_request',
    });
    await expect(store.set(scope, 'k'.repeat(257), 'v', 1)).rejects.toMatchObject({
      code: 'invalid_memory_request',
    });
    await expect(store.set(scope, 'k0', 'nul\u0000', 1)).rejects.toMatchObject({
      code: 'invalid_memory_request',
    });
  });

  it('serializes concurrent writers of one user: the entry limit holds exactly', async () => {
    const store = createMemoryStore(database, { ...LIMITS, maxBytesPerUser: 100_000 });
    const scope = { tenantId: fresh('t'), user: 'racer' };
    const results = await Promise.allSettled(
      Array.from({ length: 25 }, (_, i) => store.set(scope, `key${i}`, 'v', i)),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(10);
    expect(
      results
        .filter((result) => result.status === 'rejected')
        .every((result) => (result as PromiseRejectedResult).reason instanceof MemoryError),
    ).toBe(true);
    expect((await store.usage(scope)).entries).toBe(10);
  });

  it('runs the tool operations the model calls, answering JSON or a clear error', async () => {
    const store = createMemoryStore(database, LIMITS);
    const scope = { tenantId: fresh('t'), user: 'u' };
    const call = (args: unknown) => runMemoryCall(store, scope, JSON.stringify(args), 5000);
    expect(JSON.parse(await call({ operation: 'set', key: 'city', value: 'Lyon' }))).toEqual({
      ok: true,
      key: 'city',
    });
    expect(JSON.parse(await call({ operation: 'get', key: 'city' }))).toEqual({
      key: 'city',
      value: 'Lyon',
      updated_at: 5,
    });
    expect(JSON.parse(await call({ operation: 'get', key: 'zip' }))).toEqual({
      key: 'zip',
      found: false,
    });
    const note = JSON.parse(await call({ operation: 'add_note', text: 'likes trains' })) as {
      id: string;
    };
    expect(JSON.parse(await call({ operation: 'search', query: 'trains' }))).toEqual({
      results: [{ kind: 'note', id: note.id, text: 'likes trains', updated_at: 5 }],
    });
    expect(JSON.parse(await call({ operation: 'list' }))).toEqual({
      entries: [{ key: 'city', bytes: 8 }],
      notes: [{ id: note.id, text: 'likes trains' }],
    });
    expect(JSON.parse(await call({ operation: 'delete_note', id: note.id }))).toEqual({
      id: note.id,
      deleted: true,
    });
    expect(JSON.parse(await call({ operation: 'delete', key: 'city' }))).toEqual({
      key: 'city',
      deleted: true,
    });
    await expect(call({ operation: 'explode' })).rejects.toThrow(/'operation' must be one of/);
    await expect(call({ operation: 'set', key: 'a' })).rejects.toThrow(
      "'value' is required for set",
    );
    await expect(runMemoryCall(store, scope, 'not json', 1)).rejects.toThrow(/JSON object/);
  });
});

describe.each(stores)('memory tool end to end on $name', ({ open }) => {
  let database: Database;
  let model: Awaited<ReturnType<typeof startScriptedModel>>;
  let app: RunningApp;
  const client = (key = TENANT_A_KEY) =>
    new OpenAI({ baseURL: `${app.url}/v1`, apiKey: key, maxRetries: 0 });
  const user = fresh('user');

  beforeAll(async () => {
    database = await open();
    await migrate(database);
    model = await startScriptedModel();
    const config = agentConfig(model.url, { workerIntervalMs: 200, leaseMs: 2000 });
    app = await startApp(
      {
        ...config,
        runtime: {
          ...config.runtime,
          memory: { maxValueBytes: 200, maxEntriesPerUser: 20, maxBytesPerUser: 4000 },
        },
      },
      { database },
    );
  });
  afterAll(async () => {
    await app?.close();
    await model?.close();
    await database?.close();
  });

  const memory = [{ type: 'memory' }] as unknown as OpenAI.Responses.Tool[];
  const output = (response: OpenAI.Responses.Response) =>
    response.output as unknown as Array<Record<string, unknown>>;

  it('writes memory in one conversation and reads it in another (openai SDK)', async () => {
    const first = await client().responses.create({
      model: 'fake',
      safety_identifier: user,
      tools: memory,
      input:
        'CALL memory {"operation":"set","key":"favorite_color","value":"teal"}; CALL memory {"operation":"add_note","text":"Wants answers in French"}',
    });
    expect(first.status).toBe('completed');
    expect(output(first).map((item) => item['type'])).toEqual([
      'function_call',
      'function_call_output',
      'function_call',
      'function_call_output',
      'message',
    ]);
    expect(output(first)[0]).toMatchObject({ name: 'memory', status: 'completed' });
    expect(output(first)[1]!['output']).toBe('{"ok":true,"key":"favorite_color"}');
    // The model was offered the memory function with its schema; the Response lists it.
    expect(model.requests.at(-1)!.tools!.map((tool) => tool.function.name)).toEqual(['memory']);
    expect(
      (first.tools as unknown as Array<Record<string, unknown>>).map((tool) => tool['name']),
    ).toEqual(['memory']);

    // A new conversation: no previous_response_id, nothing in common but the user.
    const second = await client().responses.create({
      model: 'fake',
      safety_identifier: user,
      tools: memory,
      input: 'CALL memory {"operation":"get","key":"favorite_color"}',
    });
    expect(second.output_text).toMatch(
      /^final: \{"key":"favorite_color","value":"teal","updated_at":\d+\}$/,
    );
    const third = await client().responses.create({
      model: 'fake',
      user,
      tools: memory,
      input: 'CALL memory {"operation":"search","query":"french"}',
    });
    expect(third.output_text).toContain('"text":"Wants answers in French"');
  });

  it('never shows one tenant or user the memory of another', async () => {
    const otherTenant = await client(TENANT_B_KEY).responses.create({
      model: 'fake',
      safety_identifier: user,
      tools: memory,
      input: 'CALL memory {"operation":"get","key":"favorite_color"}',
    });
    expect(otherTenant.output_text).toBe('final: {"key":"favorite_color","found":false}');
    const searched = await client(TENANT_B_KEY).responses.create({
      model: 'fake',
      safety_identifier: user,
      tools: memory,
      input: 'CALL memory {"operation":"search","query":"french"}',
    });
    expect(searched.output_text).toBe('final: {"results":[]}');
    const otherUser = await client().responses.create({
      model: 'fake',
      safety_identifier: `${user}-other`,
      tools: memory,
      input: 'CALL memory {"operation":"get","key":"favorite_color"}',
    });
    expect(otherUser.output_text).toBe('final: {"key":"favorite_color","found":false}');
    // Tenant B writes under the same user id: tenant A's value is untouched.
    await client(TENANT_B_KEY).responses.create({
      model: 'fake',
      safety_identifier: user,
      tools: memory,
      input: 'CALL memory {"operation":"set","key":"favorite_color","value":"red"}',
    });
    const again = await client().responses.create({
      model: 'fake',
      safety_identifier: user,
      tools: memory,
      input: 'CALL memory {"operation":"get","key":"favorite_color"}',
    });
    expect(again.output_text).toContain('"value":"teal"');
  });

  it('runs the memory tool in background runs too (the executor is re-attached to the stored run)', async () => {
    const created = await client().responses.create({
      model: 'fake',
      safety_identifier: user,
      tools: memory,
      background: true,
      input:
        'CALL memory {"operation":"set","key":"city","value":"Lyon"}; CALL memory {"operation":"get","key":"city"}',
    });
    expect(created.status).toBe('queued');
    const done = await waitFor(async () => {
      const current = await client().responses.retrieve(created.id);
      return current.status === 'completed' || current.status === 'failed' ? current : undefined;
    });
    expect(done.status).toBe('completed');
    expect(done.output_text).toContain('"value":"Lyon"');
  });

  it('tells the model when a limit is exceeded; refuses a memory tool without a user (400)', async () => {
    const big = 'x'.repeat(201);
    const refused = await client().responses.create({
      model: 'fake',
      safety_identifier: user,
      tools: memory,
      input: `CALL memory {"operation":"set","key":"essay","value":"${big}"}`,
    });
    expect(refused.status).toBe('completed');
    expect(refused.output_text).toBe(
      'final: Error: The value is 201 bytes; the limit is 200 bytes (runtime.memory.maxValueBytes)',
    );
    const anonymous = await http(`${app.url}/v1/responses`, {
      body: { model: 'fake', tools: [{ type: 'memory' }], input: 'hi' },
    });
    expect(anonymous.status).toBe(400);
    expect(anonymous.json().error).toMatchObject({
      param: 'safety_identifier',
      code: 'missing_required_parameter',
    });
    const clash = await http(`${app.url}/v1/responses`, {
      body: {
        model: 'fake',
        user,
        tools: [{ type: 'memory' }, { type: 'function', name: 'memory', parameters: {} }],
        input: 'hi',
      },
    });
    expect(clash.status).toBe(400);
    const extra = await http(`${app.url}/v1/responses`, {
      body: { model: 'fake', user, tools: [{ type: 'memory', scope: 'all' }], input: 'hi' },
    });
    expect(extra.json().error).toMatchObject({
      code: 'unknown_parameter',
      param: 'tools[0].scope',
    });
  });

  it('lets operators list and delete a tenant’s memory (master key only)', async () => {
    const base = `${app.url}/admin/v1/tenants/tenant-a/memory`;
    expect((await http(base, { key: TENANT_A_KEY })).status).toBe(403);
    const users = await http(base, { key: MASTER_KEY });
    expect(users.status).toBe(200);
    expect(users.json().data).toContainEqual(
      expect.objectContaining({ object: 'memory.user', user, entries: 2, notes: 1 }),
    );
    const mine = (await http(`${base}/${encodeURIComponent(user)}`, { key: MASTER_KEY })).json();
    expect(
      mine.data.map((entry: { kind: string; key: string }) => `${entry.kind}:${entry.key}`),
    ).toEqual(['kv:city', 'kv:favorite_color', `note:${noteId('Wants answers in French')}`]);
    expect(mine.data[1]).toMatchObject({ object: 'memory.entry', value: 'teal' });
    expect(mine.usage).toMatchObject({ entries: 3, max_entries: 20, max_bytes: 4000 });
    const page = (
      await http(`${base}/${encodeURIComponent(user)}?limit=1&after=kv:city`, { key: MASTER_KEY })
    ).json();
    expect(page.data.map((entry: { key: string }) => entry.key)).toEqual(['favorite_color']);
    const searched = (
      await http(`${base}/${encodeURIComponent(user)}?query=french`, { key: MASTER_KEY })
    ).json();
    expect(searched.data).toHaveLength(1);
    // Tenant B's memory under the same user id is B's alone.
    const other = (
      await http(`${app.url}/admin/v1/tenants/tenant-b/memory/${encodeURIComponent(user)}`, {
        key: MASTER_KEY,
      })
    ).json();
    expect(other.data.map((entry: { value: string }) => entry.value)).toEqual(['red']);

    expect(
      (
        await http(`${base}/${encodeURIComponent(user)}/entries/city`, {
          method: 'DELETE',
          key: MASTER_KEY,
        })
      ).json(),
    ).toEqual({ object: 'memory.deleted', deleted: 1 });
    expect(
      (
        await http(`${base}/${encodeURIComponent(user)}/entries/city`, {
          method: 'DELETE',
          key: MASTER_KEY,
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await http(`${base}/${encodeURIComponent(user)}`, { method: 'DELETE', key: MASTER_KEY })
      ).json(),
    ).toEqual({ object: 'memory.deleted', deleted: 2 });
    const gone = await client().responses.create({
      model: 'fake',
      safety_identifier: user,
      tools: memory,
      input: 'CALL memory {"operation":"get","key":"favorite_color"}',
    });
    expect(gone.output_text).toBe('final: {"key":"favorite_color","found":false}');
    expect(
      (
        await http(`${app.url}/admin/v1/tenants/tenant-b/memory`, {
          method: 'DELETE',
          key: MASTER_KEY,
        })
      ).json().deleted,
    ).toBeGreaterThanOrEqual(1);
    expect(
      (await http(`${app.url}/admin/v1/tenants/tenant-b/memory`, { key: MASTER_KEY })).json().data,
    ).toEqual([]);
  });
});
