import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, createRuntimeRepository, migrate } from '../../src/store/index.js';
import type { Database, NewItem, RuntimeRepository } from '../../src/store/index.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';

const pgDatabase = await pgTestUrl();
afterAll(async () => {
  await pgDatabase?.drop();
});

const targets: Array<{ name: string; url: string }> = [{ name: 'sqlite', url: 'sqlite::memory:' }];
if (pgDatabase) targets.push({ name: 'postgres', url: pgDatabase.url });
else it.skip(PG_SKIP_MESSAGE, () => undefined);

const NOW = 1_760_000_000_000;
const DAY = 86_400_000;

function message(
  id: string,
  role: string,
  text: string,
  kind: 'input' | 'output' = 'input',
): NewItem {
  return {
    id,
    type: 'message',
    kind,
    body: { id, type: 'message', role, content: [{ type: 'input_text', text }] },
  };
}

function response(
  id: string,
  previous: string | null,
  extra: { conversationId?: string; expiresAt?: number | null } = {},
) {
  return {
    id,
    previousResponseId: previous,
    conversationId: extra.conversationId ?? null,
    status: 'completed',
    model: 'm',
    createdAt: NOW,
    expiresAt: extra.expiresAt === undefined ? NOW + DAY : extra.expiresAt,
    body: { id, object: 'response' },
  };
}

describe.each(targets)('runtime repository on $name', ({ url }) => {
  let database: Database;
  let repository: RuntimeRepository;

  beforeAll(async () => {
    database = await createDatabase(url);
    await migrate(database);
    repository = createRuntimeRepository(database);
  });
  afterAll(async () => {
    await database.close();
  });

  it('rebuilds a chain in order from the store, scoped to the tenant', async () => {
    await repository.saveResponse({
      tenantId: 't1',
      now: NOW,
      response: response('resp_a', null),
      items: [message('msg_1', 'user', 'one'), message('msg_2', 'assistant', 'two', 'output')],
    });
    await repository.saveResponse({
      tenantId: 't1',
      now: NOW,
      response: response('resp_b', 'resp_a'),
      items: [message('msg_3', 'user', 'three'), message('msg_4', 'assistant', 'four', 'output')],
    });
    const chain = await repository.loadChain('t1', 'resp_b', NOW);
    expect(chain?.map((item) => item['id'])).toEqual(['msg_1', 'msg_2', 'msg_3', 'msg_4']);
    expect(await repository.loadChain('t2', 'resp_b', NOW)).toBeUndefined();
    expect(await repository.getResponse('t2', 'resp_b', NOW)).toBeUndefined();
    expect((await repository.getResponse('t1', 'resp_b', NOW))?.previousResponseId).toBe('resp_a');
    expect(await repository.loadChain('t1', 'resp_b', NOW + 2 * DAY)).toBeUndefined();
  });

  it('pages input items with a cursor in both orders', async () => {
    const items = Array.from({ length: 5 }, (_, i) => message(`msg_p${i}`, 'user', `p${i}`));
    await repository.saveResponse({
      tenantId: 't1',
      now: NOW,
      response: response('resp_p', null),
      items: [...items, message('msg_out', 'assistant', 'x', 'output')],
    });
    const first = await repository.listInputItems('t1', 'resp_p', { limit: 2, order: 'desc' }, NOW);
    expect(first?.items.map((item) => item['id'])).toEqual(['msg_p4', 'msg_p3']);
    expect(first?.hasMore).toBe(true);
    const next = await repository.listInputItems(
      't1',
      'resp_p',
      { limit: 10, order: 'desc', after: 'msg_p3' },
      NOW,
    );
    expect(next?.items.map((item) => item['id'])).toEqual(['msg_p2', 'msg_p1', 'msg_p0']);
    expect(next?.hasMore).toBe(false);
    const asc = await repository.listInputItems(
      't1',
      'resp_p',
      { limit: 2, order: 'asc', after: 'msg_p1' },
      NOW,
    );
    expect(asc?.items.map((item) => item['id'])).toEqual(['msg_p2', 'msg_p3']);
    expect(
      await repository.listInputItems('t9', 'resp_p', { limit: 2, order: 'asc' }, NOW),
    ).toBeUndefined();
  });

  it('keeps conversation items in order across API appends and responses', async () => {
    await repository.createConversation(
      { id: 'conv_1', tenantId: 't1', createdAt: NOW, expiresAt: null, metadata: { a: 'b' } },
      [message('msg_c1', 'user', 'seed')],
    );
    await repository.saveResponse({
      tenantId: 't1',
      now: NOW,
      conversationId: 'conv_1',
      response: response('resp_c', null, { conversationId: 'conv_1' }),
      items: [message('msg_c2', 'user', 'hi'), message('msg_c3', 'assistant', 'hello', 'output')],
    });
    await repository.appendConversationItems(
      't1',
      'conv_1',
      [message('msg_c4', 'user', 'more')],
      NOW,
    );
    // store:false response: items are owned by the conversation.
    await repository.saveResponse({
      tenantId: 't1',
      now: NOW,
      conversationId: 'conv_1',
      items: [message('msg_c5', 'user', 'unstored')],
    });
    const all = await repository.loadConversationItems('t1', 'conv_1');
    expect(all.map((item) => item['id'])).toEqual([
      'msg_c1',
      'msg_c2',
      'msg_c3',
      'msg_c4',
      'msg_c5',
    ]);
    const page = await repository.listConversationItems('t1', 'conv_1', {
      limit: 2,
      order: 'desc',
      after: 'msg_c4',
    });
    expect(page.items.map((item) => item['id'])).toEqual(['msg_c3', 'msg_c2']);

    // Removing a response-owned item unlinks it; the response keeps it.
    expect(await repository.deleteConversationItem('t1', 'conv_1', 'msg_c3')).toBe(true);
    expect(await repository.getConversationItem('t1', 'conv_1', 'msg_c3')).toBeUndefined();
    expect((await repository.loadChain('t1', 'resp_c', NOW))?.map((item) => item['id'])).toEqual([
      'msg_c2',
      'msg_c3',
    ]);
    expect(await repository.deleteConversationItem('t1', 'conv_1', 'msg_c4')).toBe(true);
    expect(await repository.deleteConversationItem('t2', 'conv_1', 'msg_c1')).toBe(false);

    expect(await repository.updateConversationMetadata('t1', 'conv_1', { x: 'y' }, NOW)).toBe(true);
    expect((await repository.getConversation('t1', 'conv_1', NOW))?.metadata).toEqual({ x: 'y' });
    expect(await repository.getConversation('t2', 'conv_1', NOW)).toBeUndefined();

    // Deleting the conversation deletes the items it owns; a response's items stay with it.
    expect(await repository.deleteConversation('t1', 'conv_1', NOW + DAY)).toBe(true);
    expect(await repository.getConversation('t1', 'conv_1', NOW)).toBeUndefined();
    expect([
      ...(await repository.findItems('t1', ['msg_c1', 'msg_c2', 'msg_c5'], NOW)).keys(),
    ]).toEqual(['msg_c2']);
    expect((await repository.loadChain('t1', 'resp_c', NOW))?.map((item) => item['id'])).toEqual([
      'msg_c2',
      'msg_c3',
    ]);
    expect((await repository.findItems('t1', ['msg_c2'], NOW + DAY)).size).toBe(0);
  });

  it('sweeps expired responses, items, events and conversations in batches', async () => {
    for (let i = 0; i < 7; i++) {
      await repository.saveResponse({
        tenantId: 'tx',
        now: NOW,
        response: response(`resp_x${i}`, null, { expiresAt: NOW + 10 }),
        items: [message(`msg_x${i}`, 'user', 'x')],
        events: '[]',
      });
    }
    await repository.createConversation(
      { id: 'conv_x', tenantId: 'tx', createdAt: NOW, expiresAt: NOW + 10, metadata: {} },
      [message('msg_cx', 'user', 'x')],
    );
    await repository.saveResponse({
      tenantId: 'tx',
      now: NOW,
      response: response('resp_keep', null, { expiresAt: null }),
      items: [message('msg_keep', 'user', 'x')],
    });
    const result = await repository.sweep(NOW + 11, 3);
    expect(result.responses).toBeGreaterThanOrEqual(7);
    expect(result.events).toBeGreaterThanOrEqual(7);
    expect(result.conversations).toBeGreaterThanOrEqual(1);
    expect(result.items).toBeGreaterThanOrEqual(8);
    expect(await repository.getResponse('tx', 'resp_x1', NOW)).toBeUndefined();
    expect(await repository.getResponse('tx', 'resp_keep', NOW + 11)).toBeDefined();
    expect((await repository.findItems('tx', ['msg_x1', 'msg_cx', 'msg_keep'], NOW)).size).toBe(1);
  });

  it('deletes a response with its own items but not its conversation items', async () => {
    await repository.createConversation(
      { id: 'conv_d', tenantId: 't1', createdAt: NOW, expiresAt: null, metadata: {} },
      [],
    );
    await repository.saveResponse({
      tenantId: 't1',
      now: NOW,
      conversationId: 'conv_d',
      response: response('resp_d', null, { conversationId: 'conv_d' }),
      items: [message('msg_d1', 'user', 'x')],
    });
    await repository.saveResponse({
      tenantId: 't1',
      now: NOW,
      response: response('resp_e', null),
      items: [message('msg_e1', 'user', 'x')],
      events: '[{"type":"x"}]',
    });
    expect(await repository.deleteResponse('t2', 'resp_e')).toBe(false);
    expect(await repository.deleteResponse('t1', 'resp_e')).toBe(true);
    expect(await repository.deleteResponse('t1', 'resp_d')).toBe(true);
    expect(await repository.getEvents('t1', 'resp_e')).toBeUndefined();
    expect(
      (await repository.loadConversationItems('t1', 'conv_d')).map((item) => item['id']),
    ).toEqual(['msg_d1']);
    expect((await repository.findItems('t1', ['msg_e1'], NOW)).size).toBe(0);
  });
});
