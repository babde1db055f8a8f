import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccessModule, type BudgetAlert, createAccess } from '../../src/access/index.js';
import { countTokens } from '../../src/access/estimate.js';
import { type ConfigInput, validateConfig } from '../../src/config/index.js';
import type { ChatRequest } from '../../src/core/chat.js';
import type { Principal } from '../../src/gateway/types.js';
import { createDatabase, type Database, migrate } from '../../src/store/index.js';

/** The access module on its own (SQLite, memory counters), with a controlled clock. */

const MASTER = 'sk-master-module-test';
const actor = { actor: 'master', requestId: null };
let now = Date.parse('2026-03-18T12:00:00Z');
const clock = () => now;
let directory: string;
let database: Database;

function config(extra: Partial<ConfigInput> = {}) {
  return validateConfig({
    auth: { masterKey: MASTER },
    providers: { up: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: {
      // $2 per 1M input tokens, $3 per 1M output tokens: 2 and 3 µUSD per token.
      priced: { price: { input: '2', output: '3' }, deployments: [{ provider: 'up', model: 'x' }] },
      'gpt-4o-mini': { deployments: [{ provider: 'up', model: 'x' }] },
    },
    ...extra,
  });
}

async function open(
  extra: Partial<ConfigInput> = {},
  options: { onAlert?: (alert: BudgetAlert) => void } = {},
): Promise<AccessModule> {
  return createAccess({
    config: config(extra),
    database,
    clock,
    estimate: { overhead: { perMessage: 0, perRequest: 0 } },
    ...options,
  });
}

const bearer = (token: string) => ({ kind: 'bearer' as const, token });
const body: ChatRequest = {
  model: 'priced',
  max_tokens: 20,
  messages: [{ role: 'user', content: 'count the tokens of this sentence' }],
};
const inputTokens = countTokens('count the tokens of this sentence');
const usage = { inputTokens, cachedInputTokens: 0, outputTokens: 20, reasoningTokens: 0 };
const cost = BigInt(inputTokens * 2 + 20 * 3);

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'switchyard-access-'));
  database = await createDatabase(`sqlite:${join(directory, 'access.db')}`);
  await migrate(database);
});
afterAll(async () => {
  await database.close();
  rmSync(directory, { recursive: true, force: true });
});

async function newKey(
  access: AccessModule,
  key: Parameters<AccessModule['admin']['createKey']>[0] extends infer T ? Partial<T> : never = {},
) {
  const tenant = await access.admin.createTenant({ name: 't' }, actor);
  const project = await access.admin.createProject({ name: 'p', tenantId: tenant.id }, actor);
  return access.admin.createKey({ projectId: project.id, ...key }, actor);
}

describe('access module', () => {
  it('keeps the master key, and seeds `keys:` from the config as hashed virtual keys', async () => {
    const access = await open({
      keys: [
        {
          key: 'sk-seeded-0123456789',
          name: 'ci',
          tenant: 'acme',
          project: 'web',
          models: ['gpt-4o*'],
        },
      ],
    });
    expect(await access.authenticate(bearer(MASTER), '10.0.0.1')).toMatchObject({
      keyId: 'master',
      isMaster: true,
    });
    const principal = await access.authenticate(bearer('sk-seeded-0123456789'), '10.0.0.1');
    expect(principal).toEqual({
      keyId: 'ci',
      tenantId: 'acme',
      projectId: 'web',
      isMaster: false,
      allowedModels: ['gpt-4o*'],
    });
    await expect(
      access.authenticate(bearer('sk-unknown-0123456789'), '127.0.0.1'),
    ).rejects.toMatchObject({ status: 401 });
    await expect(access.authenticate({ kind: 'none' }, '127.0.0.1')).rejects.toMatchObject({
      status: 401,
    });
    // Seeding again (a restart, another replica) changes nothing.
    const again = await open({
      keys: [{ key: 'sk-seeded-0123456789', name: 'ci', tenant: 'acme', project: 'web' }],
    });
    expect((await again.authenticate(bearer('sk-seeded-0123456789'), undefined)).keyId).toBe('ci');
  });

  it('with no master key, serves loopback clients (even with an unknown key) and no one else', async () => {
    const access = await createAccess({ config: config({ auth: {} }), database, clock });
    expect(await access.authenticate({ kind: 'none' }, '127.0.0.1')).toMatchObject({
      keyId: null,
      isMaster: true,
    });
    expect(await access.authenticate(bearer('sk-anything-at-all'), '::1')).toMatchObject({
      keyId: null,
      isMaster: true,
    });
    await expect(access.authenticate({ kind: 'none' }, '10.1.2.3')).rejects.toMatchObject({
      status: 401,
      message: expect.stringMatching(/loopback/),
    });
  });

  it('reserves input and output at the model price, exactly, under 500 concurrent admissions', async () => {
    const access = await open();
    const { key, secret } = await newKey(access, {
      budget: { amountMicros: cost * 100n, period: 'day', mode: 'hard' },
    });
    const principal = await access.authenticate(bearer(secret), undefined);
    const attempts = await Promise.allSettled(
      Array.from({ length: 500 }, async (_, i) => {
        const admission = await access.admit({
          requestId: `r${i}`,
          principal,
          model: 'priced',
          body,
          operation: 'chat',
          now,
        });
        await new Promise((resolve) => setTimeout(resolve, 5));
        await admission.settle(usage);
        await admission.settle(usage); // a second settle is ignored
      }),
    );
    expect(attempts.filter((attempt) => attempt.status === 'fulfilled')).toHaveLength(100);
    const refusal = attempts.find(
      (attempt) => attempt.status === 'rejected',
    ) as PromiseRejectedResult;
    expect(refusal.reason).toMatchObject({ status: 402, code: 'budget_exceeded' });
    const [, , level] = await access.admin.status('key', key.id);
    expect(level!.spend).toMatchObject({
      spentMicros: cost * 100n,
      reservedMicros: 0n,
      remainingMicros: 0n,
    });
  });

  it('opens a new budget period at the UTC boundary', async () => {
    const access = await open();
    const { secret } = await newKey(access, {
      budget: { amountMicros: cost, period: 'day', mode: 'hard' },
    });
    const principal = await access.authenticate(bearer(secret), undefined);
    const day = Date.parse('2026-05-01T23:59:59.999Z');
    await (
      await access.admit({
        requestId: 'a',
        principal,
        model: 'priced',
        body,
        operation: 'chat',
        now: day,
      })
    ).settle(usage);
    await expect(
      access.admit({
        requestId: 'b',
        principal,
        model: 'priced',
        body,
        operation: 'chat',
        now: day,
      }),
    ).rejects.toMatchObject({ code: 'budget_exceeded' });
    const next = await access.admit({
      requestId: 'c',
      principal,
      model: 'priced',
      body,
      operation: 'chat',
      now: day + 1,
    });
    await next.settle(undefined);
  });

  it('announces a budget alert once per period when spend crosses the threshold', async () => {
    const alerts: BudgetAlert[] = [];
    const access = await open({}, { onAlert: (alert) => alerts.push(alert) });
    const { key, secret } = await newKey(access, {
      budget: { amountMicros: cost * 4n, period: 'month', mode: 'soft', alertPercent: 50 },
    });
    const principal = await access.authenticate(bearer(secret), undefined);
    for (let i = 0; i < 4; i++)
      await (
        await access.admit({
          requestId: `al${i}`,
          principal,
          model: 'priced',
          body,
          operation: 'chat',
          now,
        })
      ).settle(usage);
    // Its own 50% and the default alerts.budgetThresholds (50, 80, 100), each once: the last
    // request crosses 80% and 100% together.
    const alert = (percent: number, spent: bigint) => ({
      level: { kind: 'key', id: key.id },
      label: `key ${key.id}`,
      scope: `key:${key.id}:month`,
      periodStart: Date.parse('2026-03-01T00:00:00Z'),
      percent,
      spentMicros: spent,
      limitMicros: cost * 4n,
    });
    expect(alerts).toEqual([alert(50, cost * 2n), alert(80, cost * 4n), alert(100, cost * 4n)]);
  });

  it('rotation: old and new secrets both work during the grace period, then only the new one', async () => {
    const access = await open();
    const { key, secret } = await newKey(access);
    const rotated = await access.admin.rotateKey(key.id, 60_000, actor);
    expect(rotated.secret).not.toBe(secret);
    expect((await access.authenticate(bearer(secret), undefined)).keyId).toBe(key.id);
    expect((await access.authenticate(bearer(rotated.secret), undefined)).keyId).toBe(key.id);
    now += 60_000;
    await expect(access.authenticate(bearer(secret), undefined)).rejects.toMatchObject({
      status: 401,
      message: expect.stringMatching(/rotated/),
    });
    expect((await access.authenticate(bearer(rotated.secret), undefined)).keyId).toBe(key.id);
  });

  it('without Redis, another process sharing the database sees a revocation once its 500 ms cache entry ends', async () => {
    const here = await open();
    const there = await open();
    const { key, secret } = await newKey(here);
    expect((await there.authenticate(bearer(secret), undefined)).keyId).toBe(key.id);
    await here.admin.revokeKey(key.id, actor);
    await expect(here.authenticate(bearer(secret), undefined)).rejects.toMatchObject({
      status: 401,
    });
    now += 500;
    await expect(there.authenticate(bearer(secret), undefined)).rejects.toMatchObject({
      status: 401,
      message: expect.stringMatching(/revoked/),
    });
  });

  it('per-level limits: a refusal at one level gives back what the others counted', async () => {
    const access = await open();
    const tenant = await access.admin.createTenant({ name: 't', limits: { rpm: 100 } }, actor);
    const project = await access.admin.createProject(
      { name: 'p', tenantId: tenant.id, limits: { rpm: 100 } },
      actor,
    );
    const { secret } = await access.admin.createKey(
      { projectId: project.id, limits: { rpm: 2 } },
      actor,
    );
    const principal: Principal = await access.authenticate(bearer(secret), undefined);
    const admit = (id: string) =>
      access.admit({
        requestId: id,
        principal,
        model: 'gpt-4o-mini',
        body,
        operation: 'chat',
        now,
      });
    await admit('1');
    const second = await admit('2');
    expect(second.headers).toMatchObject({
      'x-ratelimit-limit-requests': '2',
      'x-ratelimit-remaining-requests': '0',
    });
    for (let i = 0; i < 5; i++)
      await expect(admit(`x${i}`)).rejects.toMatchObject({ status: 429, code: 'rate_limited' });
    const status = await access.admin.status('tenant', tenant.id);
    expect(status[0]!.limits).toEqual({ rpm: 100 });
    // The tenant counted only the two admitted requests: a second key gets 98 more.
    const other = await access.admin.createKey({ projectId: project.id }, actor);
    const otherPrincipal = await access.authenticate(bearer(other.secret), undefined);
    const admitted = await access.admit({
      requestId: 'o',
      principal: otherPrincipal,
      model: 'gpt-4o-mini',
      body,
      operation: 'chat',
      now,
    });
    expect(admitted.headers['x-ratelimit-remaining-requests']).toBe('97');
  });
});
