import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createSecretBox } from '../../src/runtime/secrets.js';
import { createAgentRunStore } from '../../src/store/runtime/agent-runs.js';
import { migrate } from '../../src/store/index.js';
import { storeBackends } from './helpers.js';

/** The agent-run store and its leases, on SQLite and Postgres. */

const stores = await storeBackends();

describe.each(stores)('agent runs on $name', ({ open }) => {
  it('fences checkpoints on the lease owner, hands expired leases to exactly one taker, carries cancel requests', async () => {
    const database = await open();
    try {
      await migrate(database);
      const store = createAgentRunStore(database, createSecretBox(randomBytes(32), 'ephemeral'));
      const id = `resp_${Math.random().toString(36).slice(2)}`;
      await store.insert({
        id,
        tenantId: 't1',
        status: 'queued',
        background: true,
        request: { a: 1 },
        state: { steps: 0 },
        response: { id, status: 'queued' },
        events: [{ type: 'response.created', sequence_number: 0 }],
        owner: 'A',
        leaseExpiresAt: 1000,
        now: 0,
      });
      expect(await store.get('t2', id)).toBeUndefined();
      const row = await store.get('t1', id);
      expect(row).toMatchObject({
        status: 'queued',
        background: true,
        leaseOwner: 'A',
        leaseExpiresAt: 1000,
        cancelRequested: false,
        state: { steps: 0 },
      });

      expect(
        await store.checkpoint(id, 'A', {
          status: 'in_progress',
          state: { steps: 1 },
          response: { id },
          events: [],
          leaseExpiresAt: 2000,
          now: 500,
        }),
      ).toEqual({ held: true, cancelRequested: false });
      expect(
        await store.checkpoint(id, 'B', {
          status: 'in_progress',
          state: { steps: 9 },
          response: { id },
          events: [],
          leaseExpiresAt: 2000,
          now: 500,
        }),
      ).toEqual({ held: false, cancelRequested: false });
      expect((await store.get(null, id))!.state).toEqual({ steps: 1 });

      expect(await store.expired(1500, 10)).toEqual([]);
      expect(await store.expired(2500, 10)).toEqual([id]);
      const claims = await Promise.all([
        store.claim(id, 'B', 5000, 2500),
        store.claim(id, 'C', 5000, 2500),
      ]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      const winner = claims[0] ? 'B' : 'C';
      expect((await store.renew(id, 'A', 9000, 2600)).held).toBe(false);
      expect(await store.renew(id, winner, 9000, 2600)).toEqual({
        held: true,
        cancelRequested: false,
      });

      expect(await store.requestCancel('t2', id, 2700)).toBe(false);
      expect(await store.requestCancel('t1', id, 2700)).toBe(true);
      expect(await store.renew(id, winner, 9000, 2800)).toEqual({
        held: true,
        cancelRequested: true,
      });

      await store.checkpoint(id, winner, {
        status: 'cancelled',
        state: {},
        response: { id, status: 'cancelled' },
        events: [],
        leaseExpiresAt: 9000,
        now: 2900,
      });
      await store.release(id, winner);
      expect(await store.expired(99_999, 10)).toEqual([]);
      expect(await store.claim(id, 'D', 99_999, 99_000)).toBe(false);
    } finally {
      await database.close();
    }
  });
});
