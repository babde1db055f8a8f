import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createRunBus,
  type RunBus,
  type RunBusOptions,
  type RunMessage,
} from '../../src/runtime/agent/run-bus.js';
import { closedPort } from '../fakes/upstream.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import { redisTestUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from './helpers.js';

/**
 * The run bus between replicas: a message published by one reaches every other (Redis pub/sub
 * and Postgres LISTEN/NOTIFY); an unreachable Redis or Postgres is reported, never thrown (the
 * lease renewals and the worker's polling remain); a dropped LISTEN connection is reopened.
 */

const pgDatabase = await pgTestUrl();
if (!pgDatabase) console.warn(PG_SKIP_MESSAGE);
const redisUrl = await redisTestUrl();
if (!redisUrl) console.warn('Redis is not reachable: the Redis bus tests are skipped.');
afterAll(async () => {
  await pgDatabase?.drop();
});

/** A bus and what it received. */
async function open(options: Omit<RunBusOptions, 'onError'>) {
  const received: RunMessage[] = [];
  const errors: string[] = [];
  const bus: RunBus = createRunBus({
    ...options,
    onError: (_error, what) => errors.push(what),
    timeoutMs: 1_000,
  });
  await bus.start((message) => received.push(message));
  return { bus, received, errors };
}

const delivered = (received: RunMessage[], id: string) =>
  waitFor(
    () =>
      received.some((message) => message.kind === 'cancel' && message.id === id) ? true : undefined,
    10_000,
    10,
  );

describe.skipIf(!redisUrl)('run bus over Redis', () => {
  it('carries a cancel from one replica to the others', async () => {
    const prefix = uniquePrefix('run-bus');
    const one = await open({ redis: redisUrl, redisPrefix: prefix, store: 'sqlite::memory:' });
    const two = await open({ redis: redisUrl, redisPrefix: prefix, store: 'sqlite::memory:' });
    const elsewhere = await open({
      redis: redisUrl,
      redisPrefix: uniquePrefix('run-bus-other'),
      store: 'sqlite::memory:',
    });
    try {
      expect(one.bus.kind).toBe('redis');
      await one.bus.publish({ kind: 'cancel', id: 'resp_redis_1' });
      await delivered(two.received, 'resp_redis_1');
      await two.bus.publish({ kind: 'released' });
      await waitFor(() => (one.received.some((m) => m.kind === 'released') ? true : undefined));
      // Another deployment's prefix hears nothing.
      expect(elsewhere.received).toEqual([]);
      expect([...one.errors, ...two.errors]).toEqual([]);
    } finally {
      await Promise.all([one.bus.close(), two.bus.close(), elsewhere.bus.close()]);
    }
  });

  it('reports an unreachable Redis instead of throwing', async () => {
    const port = await closedPort();
    const down = await open({ redis: `redis://127.0.0.1:${port}`, store: 'sqlite::memory:' });
    await down.bus.publish({ kind: 'cancel', id: 'resp_lost' });
    expect(down.errors).toContain('run bus (redis) publish failed');
    await down.bus.close();
  });
});

describe.skipIf(!pgDatabase)('run bus over Postgres LISTEN/NOTIFY', () => {
  it('carries a cancel between replicas and reopens a dropped LISTEN connection', {
    timeout: 60_000,
  }, async () => {
    const one = await open({ store: pgDatabase!.url });
    const two = await open({ store: pgDatabase!.url });
    const admin = new pg.Client({ connectionString: pgDatabase!.url });
    await admin.connect();
    try {
      expect(two.bus.kind).toBe('postgres');
      await one.bus.publish({ kind: 'cancel', id: 'resp_pg_1' });
      await delivered(two.received, 'resp_pg_1');

      // Drop every LISTEN connection of this database, as a Postgres restart or a proxy would.
      await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()
            and (query like 'LISTEN%' or query like 'select pg_notify%')`,
      );
      await waitFor(() => (two.errors.some((what) => what.includes('lost')) ? true : undefined));
      // Back within a second or so: a publish then reaches the other side again.
      await waitFor(
        async () => {
          await one.bus.publish({ kind: 'cancel', id: 'resp_pg_2' });
          return two.received.some((m) => m.kind === 'cancel' && m.id === 'resp_pg_2')
            ? true
            : undefined;
        },
        20_000,
        250,
      );
    } finally {
      await admin.end();
      await Promise.all([one.bus.close(), two.bus.close()]);
    }
  });

  it('reports an unreachable Postgres instead of throwing', async () => {
    const port = await closedPort();
    const down = await open({ store: `postgres://postgres@127.0.0.1:${port}/test` });
    await down.bus.publish({ kind: 'released' });
    expect(down.errors).toContain('run bus (postgres) notify failed');
    await down.bus.close();
  });
});
