import { Command } from 'commander';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAccessCommands } from '../../src/cli/access-commands.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { accessDb } from '../../src/store/access/records.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { adminClient, chat, chatBody, send, statusCounts } from './helpers.js';

/**
 * Budget rules: a budget per model pattern inside a key, project or tenant, and per end user
 * (`user` / `safety_identifier`), on one process (SQLite, budget counters in memory). The
 * three-process version over Redis is in multi-process.test.ts.
 */

const MASTER = 'sk-master-budget-rules';
let emulator: Emulator;
let gateway: RunningGateway;
let admin: ReturnType<typeof adminClient>;

beforeAll(async () => {
  emulator = await startOpenAIEmulator({ flavor: 'openai' });
  const metered = (model: string) => ({
    // 1 µUSD per output token, input free: max_tokens 10 reserves and costs exactly 10 µUSD.
    price: { input: '0', output: '1' },
    deployments: [{ provider: 'up', model }],
  });
  gateway = await startGateway({
    auth: { masterKey: MASTER },
    providers: { up: { type: 'openai', baseUrl: `${emulator.url}/v1`, apiKey: 'sk-up' } },
    models: {
      'gpt-4o': metered('gpt-4o'),
      'gpt-4o-mini': metered('gpt-4o-mini'),
      'o3-small': metered('o3-mini'),
    },
  });
  admin = adminClient(gateway.url, MASTER);
});
afterAll(async () => {
  await gateway?.close();
  await emulator?.close();
});

const spent = async (scope: string) =>
  (
    await accessDb(gateway.app.database)
      .selectFrom('budget_spend')
      .select('spent')
      .where('scope', '=', scope)
      .execute()
  ).map((row) => BigInt(row.spent));

describe('budget rules', () => {
  it('a model-pattern budget on a key binds only the models it names, exactly under concurrency', async () => {
    const { key, secret } = await admin.setup({
      key: {
        budget_rules: [{ models: ['gpt-4o*'], amount_micros: '100', period: 'month' }],
      },
    });
    expect(key.budget_rules).toEqual([
      {
        models: ['gpt-4o*'],
        per_user: false,
        amount_micros: '100',
        period: 'month',
        mode: 'hard',
        alert_percent: null,
      },
    ]);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        chat(gateway.url, secret, chatBody(i % 2 === 0 ? 'gpt-4o' : 'gpt-4o-mini', 10)),
      ),
    );
    expect(statusCounts(answers)).toEqual({ 200: 10, 402: 30 });
    const refused = answers.find((answer) => answer.status === 402)!;
    expect(refused.body.error.code).toBe('budget_exceeded');
    expect(refused.body.error.message).toContain(`key ${key.id}, models gpt-4o*`);
    // Another model is not bound by the rule.
    expect((await chat(gateway.url, secret, chatBody('o3-small', 10))).status).toBe(200);
    expect(await spent(`key:${key.id}:month:models=gpt-4o*`)).toEqual([100n]);
  }, 60_000);

  it('a per-user budget on a project gives every end user (user or safety_identifier) a bucket of its own', async () => {
    const { project, secret } = await admin.setup({
      project: {
        budget_rules: [{ per_user: true, amount_micros: '30', period: 'day' }],
      },
    });
    const as = (user: string | undefined, field: 'user' | 'safety_identifier' = 'user') => ({
      ...chatBody('gpt-4o-mini', 10),
      ...(user === undefined ? {} : { [field]: user }),
    });
    const alice = await Promise.all(
      Array.from({ length: 8 }, () => chat(gateway.url, secret, as('alice'))),
    );
    expect(statusCounts(alice)).toEqual({ 200: 3, 402: 5 });
    expect(alice.find((answer) => answer.status === 402)!.body.error.message).toContain(
      'user alice',
    );
    // bob is named through safety_identifier and has his own 30 µUSD.
    const bob = await Promise.all(
      Array.from({ length: 5 }, () => chat(gateway.url, secret, as('bob', 'safety_identifier'))),
    );
    expect(statusCounts(bob)).toEqual({ 200: 3, 402: 2 });
    // Leaving the field out does not escape the cap: those requests share one bucket.
    const anonymous = await Promise.all(
      Array.from({ length: 5 }, () => chat(gateway.url, secret, as(undefined))),
    );
    expect(statusCounts(anonymous)).toEqual({ 200: 3, 402: 2 });
    expect(await spent(`project:${project.id}:day:models=*:user=alice`)).toEqual([30n]);
    expect(await spent(`project:${project.id}:day:models=*:user=bob`)).toEqual([30n]);
  }, 60_000);

  it('the Responses API charges the safety_identifier user; a tenant rule binds its keys', async () => {
    const { secret } = await admin.setup({
      tenant: {
        budget_rules: [
          { models: ['gpt-4o-mini'], per_user: true, amount_micros: '32', period: 'total' },
        ],
      },
    });
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: secret, maxRetries: 0 });
    const ask = (user: string) =>
      client.responses.create({
        model: 'gpt-4o-mini',
        input: chatBody('gpt-4o-mini', 16).messages[0]!.content,
        max_output_tokens: 16,
        safety_identifier: user,
        store: false,
      });
    await ask('carol');
    await ask('carol');
    await expect(ask('carol')).rejects.toMatchObject({
      status: 402,
      error: { code: 'budget_exceeded' },
    });
    expect((await ask('dave')).usage?.output_tokens).toBe(16);
  }, 60_000);

  it('rules can be replaced and removed; bad rules get a 400', async () => {
    const { key } = await admin.setup();
    const bad = await send(`${gateway.url}/admin/v1/keys/${key.id}`, 'PATCH', MASTER, {
      budget_rules: [{ models: ['gpt-*-mini'], amount_micros: '1', period: 'day' }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('budget_rules.0.models.0');
    const twice = await send(`${gateway.url}/admin/v1/keys/${key.id}`, 'PATCH', MASTER, {
      budget_rules: [
        { models: ['a', 'b'], amount_micros: '1', period: 'day' },
        { models: ['b', 'a'], amount_micros: '2', period: 'day' },
      ],
    });
    expect(twice.status).toBe(400);
    const set = await admin.call('PATCH', `/keys/${key.id}`, {
      budget_rules: [{ per_user: true, amount_micros: '5', period: 'week', alert_percent: 80 }],
    });
    expect(set.budget_rules).toHaveLength(1);
    expect(
      (await admin.call('PATCH', `/keys/${key.id}`, { name: 'renamed' })).budget_rules,
    ).toHaveLength(1);
    expect(
      (await admin.call('PATCH', `/keys/${key.id}`, { budget_rules: null })).budget_rules,
    ).toEqual([]);
  });

  it('the keys CLI sets, shows and removes rules', async () => {
    const cli = async (...args: string[]) => {
      let out = '';
      const program = new Command('switchyard').exitOverride();
      registerAccessCommands(program, {
        out: (text) => (out += text),
        err: (text) => (out += text),
      });
      await program.parseAsync([
        'node',
        'switchyard',
        ...args,
        '--url',
        gateway.url,
        '--key',
        MASTER,
      ]);
      return out;
    };
    const { key } = await admin.setup();
    const updated = JSON.parse(
      await cli(
        'keys',
        'update',
        key.id,
        '--budget-rule',
        'models=gpt-4o*+o3*,usd=2.5,period=day,alert=80',
        'per-user,micros=500',
        '--json',
      ),
    );
    expect(updated.budget_rules).toEqual([
      {
        models: ['gpt-4o*', 'o3*'],
        per_user: false,
        amount_micros: '2500000',
        period: 'day',
        mode: 'hard',
        alert_percent: 80,
      },
      {
        models: null,
        per_user: true,
        amount_micros: '500',
        period: 'month',
        mode: 'hard',
        alert_percent: null,
      },
    ]);
    expect(await cli('keys', 'show', key.id)).toContain(
      'gpt-4o*+o3*: $2.5/day hard, alert 80%; per user: $0.0005/month hard',
    );
    expect(await cli('keys', 'update', key.id, '--budget-rule', 'models=x')).toMatch(
      /needs usd=N or micros=N/,
    );
    const cleared = JSON.parse(
      await cli('keys', 'update', key.id, '--budget-rule', 'none', '--json'),
    );
    expect(cleared.budget_rules).toEqual([]);
  });
});
