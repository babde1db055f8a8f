import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import type { Config } from '../../src/config/index.js';
import { type SandboxClouds, sandboxConfig, startSandboxClouds } from '../../src/sandbox/preset.js';
import { judge } from '../../src/telemetry/partner-health.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { call } from '../helpers/gateway.js';
import { pgTestUrl } from '../helpers/postgres.js';
import { redisTestUrl, uniquePrefix } from '../helpers/redis.js';

/**
 * Per-model and per-partner latency percentiles and error rates, and the partner health summary
 * (issue 20 item 6), driven by real traffic through the OpenAI SDK against the sandbox clouds,
 * one of which is taken down. On SQLite always and on Postgres (two replicas sharing the store
 * and, when Redis is there, breakers) when reachable.
 */

const MASTER_KEY = 'sk-master-health-test-0000';
const auth = { authorization: `Bearer ${MASTER_KEY}` };

const pg = await pgTestUrl();
const redis = await redisTestUrl();
afterAll(async () => {
  await pg?.drop();
});

interface Latency {
  key: string;
  requests: number;
  errors: number;
  errorRate: number;
  latency: { p50Ms: number | null; p95Ms: number | null; p99Ms: number | null };
  ttfb: { p50Ms: number | null; p95Ms: number | null; p99Ms: number | null; samples: number };
}
interface Health {
  id: string;
  state: string;
  reason: string;
  attempts: { total: number; failed: number; errorRate: number; failingInARow: number };
  requests: { total: number; errors: number; errorRate: number };
  breakersOpen: number;
  deployments: Array<{ key: string; breaker: string }>;
  lastError: { code: string; at: number; deployment: string | null } | null;
}

const stores: Array<[string, string]> = [
  ['sqlite', 'sqlite::memory:'],
  ...(pg ? [['postgres', pg.url] as [string, string]] : []),
];

describe.each(stores)('latency breakdown and partner health (%s)', (dialect, store) => {
  let sandbox: SandboxClouds;
  let app: App;
  let url: string;
  let replica: { app: App; url: string } | undefined;
  let config: Config;

  beforeAll(async () => {
    sandbox = await startSandboxClouds({ tokenDelayMs: 2 });
    const base = sandboxConfig(sandbox, { store, masterKey: MASTER_KEY });
    // Quick retries, so a cloud that is down costs the test little time.
    config = {
      ...base,
      routing: { ...base.routing, retries: 1 },
      ...(redis && dialect === 'postgres'
        ? { redis, redisPrefix: uniquePrefix('partner-health') }
        : {}),
    } as Config;
    app = await createApp({ config, logger: createLogger({ level: 'silent' }) });
    url = (await app.listen(0, '127.0.0.1')).url;
    if (dialect === 'postgres') {
      const second = await createApp({ config, logger: createLogger({ level: 'silent' }) });
      replica = { app: second, url: (await second.listen(0, '127.0.0.1')).url };
    }
  }, 60_000);

  afterAll(async () => {
    await replica?.app.close();
    await app?.close();
    await sandbox?.close();
  });

  const client = () => new OpenAI({ apiKey: MASTER_KEY, baseURL: `${url}/v1`, maxRetries: 0 });
  const streamChat = async (model: string, content: string) => {
    const stream = await client().chat.completions.create({
      model,
      messages: [{ role: 'user', content }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    return text;
  };
  const latency = async (by: string, at = url): Promise<Latency[]> => {
    const answer = await call(`${at}/admin/v1/dashboard/latency?range=1h&by=${by}`, {
      headers: auth,
    });
    expect(answer.status).toBe(200);
    return answer.body.data;
  };
  const health = async (at = url): Promise<Health[]> => {
    const answer = await call(`${at}/admin/v1/dashboard/health`, { headers: auth });
    expect(answer.status).toBe(200);
    return answer.body.data;
  };
  const partner = (list: Health[], id: string) => list.find((item) => item.id === id)!;

  it('reports p50/p95/p99 of latency and TTFB and error rates per model and partner', async () => {
    for (let i = 0; i < 6; i++)
      expect(await streamChat('gpt-4o-mini', `say stream number ${i} of six`)).not.toBe('');
    for (let i = 0; i < 3; i++) {
      const answer = await client().chat.completions.create({
        model: 'claude-sonnet',
        messages: [{ role: 'user', content: `say plain ${i}` }],
      });
      expect(answer.choices[0]?.message.content).toBeTruthy();
    }
    const models = await latency('model');
    const mini = models.find((row) => row.key === 'gpt-4o-mini')!;
    const claude = models.find((row) => row.key === 'claude-sonnet')!;
    expect(mini).toMatchObject({ requests: 6, errors: 0, errorRate: 0 });
    expect(claude).toMatchObject({ requests: 3, errors: 0, errorRate: 0 });
    for (const row of [mini, claude]) {
      const { p50Ms, p95Ms, p99Ms } = row.latency;
      expect(p50Ms).not.toBeNull();
      expect(p50Ms!).toBeLessThanOrEqual(p95Ms!);
      expect(p95Ms!).toBeLessThanOrEqual(p99Ms!);
      // Every request has a first byte; none comes after the last, so no TTFB percentile can
      // exceed the same latency percentile.
      expect(row.ttfb.samples).toBe(row.requests);
      expect(row.ttfb.p50Ms!).toBeLessThanOrEqual(row.latency.p50Ms!);
      expect(row.ttfb.p99Ms!).toBeLessThanOrEqual(row.latency.p99Ms!);
    }
    const partners = await latency('partner');
    expect(partners.find((row) => row.key === 'azure')).toMatchObject({ requests: 6 });
    expect(partners.find((row) => row.key === 'anthropic')).toMatchObject({ requests: 3 });
    const before = await health();
    expect(before.map((item) => item.state)).toEqual(before.map(() => 'healthy'));
    expect(partner(before, 'azure').attempts).toMatchObject({ total: 6, failed: 0 });
    expect(partner(before, 'azure').requests).toMatchObject({ total: 6, errors: 0 });
    expect(
      (await call(`${url}/admin/v1/dashboard/latency?by=tenant`, { headers: auth })).status,
    ).toBe(400);
    expect((await call(`${url}/admin/v1/dashboard/health`)).status).toBe(401);
  });

  it('calls a partner whose cloud is down "down" while the others stay healthy', async () => {
    sandbox.clouds.get('azure')!.setDown(true);
    try {
      // Each request fails on Azure and fails over to OpenAI until Azure's breaker opens.
      for (let i = 0; i < 8; i++)
        expect(await streamChat('gpt-4o-mini', `say failover ${i}`)).not.toBe('');
      const now = await health();
      const azure = partner(now, 'azure');
      expect(azure.state).toBe('down');
      expect(azure.attempts.failed).toBeGreaterThanOrEqual(5);
      expect(azure.attempts.failingInARow).toBe(azure.attempts.failed);
      expect(azure.breakersOpen).toBe(1);
      expect(
        azure.deployments.find((item) => item.key === 'sandbox-azure/gpt-4o-mini'),
      ).toMatchObject({ breaker: 'open' });
      expect(azure.lastError?.code).toMatch(/upstream|overloaded|unavailable/);
      expect(azure.lastError?.deployment).toBe('sandbox-azure');
      expect(now[0]!.id).toBe('azure'); // worst first
      expect(partner(now, 'openai')).toMatchObject({ state: 'healthy' });
      // Stored facts are reused for up to 2 s between reads: poll until they include the last request.
      await expect
        .poll(async () => partner(await health(), 'openai').requests.total, { timeout: 10_000 })
        .toBe(8);
      expect(partner(now, 'anthropic').state).toBe('healthy');
    } finally {
      sandbox.clouds.get('azure')!.setDown(false);
    }
  });

  it('counts requests that failed everywhere against the model and the cloud that failed last', async () => {
    sandbox.clouds.get('anthropic')!.setDown(true);
    sandbox.clouds.get('bedrock')!.setDown(true);
    try {
      for (let i = 0; i < 2; i++) {
        const failed = await client()
          .chat.completions.create({
            model: 'claude-sonnet',
            messages: [{ role: 'user', content: `say nothing ${i}` }],
          })
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        expect(failed).toBeInstanceOf(OpenAI.APIError);
      }
      const claude = (await latency('model')).find((row) => row.key === 'claude-sonnet')!;
      expect(claude).toMatchObject({ requests: 5, errors: 2 });
      expect(claude.errorRate).toBeCloseTo(0.4, 5);
      const now = await health();
      const failing = [partner(now, 'anthropic'), partner(now, 'aws')];
      expect(failing.map((item) => item.attempts.failed).reduce((a, b) => a + b)).toBeGreaterThan(
        0,
      );
      expect(failing.map((item) => item.state)).not.toContain('healthy');
      await expect
        .poll(
          async () => {
            const later = await health();
            return ['anthropic', 'aws'].reduce(
              (sum, id) => sum + partner(later, id).requests.errors,
              0,
            );
          },
          { timeout: 10_000 },
        )
        .toBe(2);
    } finally {
      sandbox.clouds.get('anthropic')!.setDown(false);
      sandbox.clouds.get('bedrock')!.setDown(false);
    }
  });

  it.runIf(dialect === 'postgres')(
    'another replica reads the same stored percentiles (and, with Redis, the same breakers)',
    async () => {
      const here = await latency('model');
      const there = await latency('model', replica!.url);
      expect(there).toEqual(here);
      // The replica made no attempts itself: its last errors come from the stored usage (the
      // roll-ups name the minute, usage_events the code).
      const failed = (await health(replica!.url)).filter((item) => item.requests.errors > 0);
      expect(failed.map((item) => item.id).sort()).not.toEqual([]);
      for (const item of failed) {
        expect(item.attempts.total).toBe(0);
        expect(item.lastError).toMatchObject({ code: expect.stringMatching(/\w/) });
      }
      if (redis) {
        // Breaker transitions travel over Redis pub/sub: poll until the replica has them.
        await expect
          .poll(async () => partner(await health(replica!.url), 'azure').breakersOpen, {
            timeout: 20_000,
          })
          .toBe(1);
        const azure = partner(await health(replica!.url), 'azure');
        expect(azure.state).not.toBe('healthy');
        expect(azure.attempts.total).toBe(0); // attempts are this replica's own window
      }
    },
  );
});

describe('partner health state rules', () => {
  const quiet = {
    streak: 0,
    deployments: 2,
    open: 0,
    halfOpen: 0,
    attempts: 0,
    failed: 0,
    attemptRate: 0,
    requests: 0,
    errors: 0,
    requestRate: 0,
  };
  it('is healthy without traffic or errors, degraded on a breaker or 5% errors, down when all fail', () => {
    expect(judge(quiet)).toEqual({ state: 'healthy', reason: 'no traffic in the window' });
    expect(judge({ ...quiet, open: 1 }).state).toBe('degraded');
    expect(judge({ ...quiet, halfOpen: 1 }).state).toBe('degraded');
    expect(judge({ ...quiet, open: 2 }).state).toBe('down');
    expect(judge({ ...quiet, attempts: 100, failed: 4, attemptRate: 0.04 }).state).toBe('healthy');
    expect(judge({ ...quiet, attempts: 100, failed: 5, attemptRate: 0.05 }).state).toBe('degraded');
    expect(judge({ ...quiet, attempts: 4, failed: 4, attemptRate: 1 }).state).toBe('degraded');
    expect(judge({ ...quiet, attempts: 5, failed: 5, attemptRate: 1 }).state).toBe('down');
    // After a healthy spell the rate lags; five failures in a row with no success since do not.
    expect(judge({ ...quiet, streak: 5, attempts: 50, failed: 5, attemptRate: 0.1 }).state).toBe(
      'down',
    );
    expect(judge({ ...quiet, requests: 10, errors: 9, requestRate: 0.9 }).state).toBe('down');
  });
});
