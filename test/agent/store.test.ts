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
  it("seizes a live lease for a cancel and gives a replica its earlier lives' runs back, never finished ones", async () => {
    const database = await open();
    try {
      await migrate(database);
      const store = createAgentRunStore(database, createSecretBox(randomBytes(32), 'ephemeral'));
      const suffix = Math.random().toString(36).slice(2);
      const insert = (id: string, owner: string, status = 'in_progress') =>
        store.insert({
          id,
          tenantId: 't1',
          status,
          background: true,
          request: {},
          state: {},
          response: { id },
          events: [],
          owner,
          leaseExpiresAt: 10_000,
          now: 0,
        });
      const ids = {
        old: `resp_old_${suffix}`,
        older: `resp_older_${suffix}`,
        mine: `resp_mine_${suffix}`,
        other: `resp_other_${suffix}`,
        lookalike: `resp_like_${suffix}`,
        done: `resp_done_${suffix}`,
      };
      await insert(ids.old, 'r_1/life-1');
      await insert(ids.older, 'r_1/life-0');
      await insert(ids.mine, 'r_1/life-2');
      await insert(ids.other, 'r-2/life-1');
      // "_" would match any character under LIKE: the prefix is compared exactly.
      await insert(ids.lookalike, 'rx1/life-1');
      await insert(ids.done, 'r_1/life-1', 'completed');

      const taken = await store.reclaim('r_1/', 'r_1/life-2', 20_000, 100);
      expect(taken.sort()).toEqual([ids.old, ids.older].sort());
      expect(await store.get('t1', ids.old)).toMatchObject({
        leaseOwner: 'r_1/life-2',
        leaseExpiresAt: 20_000,
      });
      expect((await store.get('t1', ids.other))?.leaseOwner).toBe('r-2/life-1');
      expect((await store.get('t1', ids.lookalike))?.leaseOwner).toBe('rx1/life-1');
      expect((await store.get('t1', ids.done))?.leaseOwner).toBe('r_1/life-1');

      // A live lease (expires at 10 000, now 100) is not claimable, but can be seized.
      expect(await store.claim(ids.other, 'C', 20_000, 100)).toBe(false);
      expect(await store.seize(ids.other, 'C', 20_000, 100)).toBe(true);
      expect((await store.get('t1', ids.other))?.leaseOwner).toBe('C');
      // The old owner is fenced off.
      const fenced = await store.checkpoint(ids.other, 'r-2/life-1', {
        status: 'in_progress',
        state: {},
        response: { id: ids.other },
        events: [],
        leaseExpiresAt: 30_000,
        now: 200,
      });
      expect(fenced.held).toBe(false);
      expect(await store.seize(ids.done, 'C', 20_000, 100)).toBe(false);
    } finally {
      await database.close();
    }
  });
});
