import { describe, expect, it } from 'vitest';
import { createMeter, type MeterOptions, type UsageOutcome } from '../../src/billing/index.js';
import { GatewayError } from '../../src/errors/index.js';
import type { UsageEvent } from '../../src/store/index.js';
import { usageEvent } from './fixtures/events.js';

/** Group commit: batching, per-event outcomes, and what a failed batch does to its events. */

function recorder(fail?: (events: UsageEvent[]) => unknown) {
  const batches: string[][] = [];
  const post = async (events: UsageEvent[]): Promise<UsageOutcome[]> => {
    batches.push(events.map((event) => event.requestId));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const error = fail?.(events);
    if (error) throw error;
    return events.map((event) =>
      event.inputTokens === 13
        ? {
            status: 'conflict',
            error: new GatewayError('conflict', { code: 'invalid_request', status: 409 }),
          }
        : {
            status: 'posted',
            transactionId: `u:${event.requestId}`,
            revenue: 1n,
            cost: 0n,
            share: 0n,
          },
    );
  };
  return { batches, post };
}

/** A meter whose post records every event at once (as a synchronous store would) and notes each batch's size. */
function sizes(options: Partial<MeterOptions> = {}) {
  const batches: number[] = [];
  const meter = createMeter({
    ...options,
    post: async (events) => {
      batches.push(events.length);
      return events.map(() => ({ status: 'recorded' }) as const);
    },
  });
  return { batches, meter };
}

describe('meter', () => {
  it('commits the events of one loop turn together, then everything that arrived meanwhile', async () => {
    const { batches, post } = recorder();
    const meter = createMeter({ post, maxBatch: 100 });
    const events = Array.from({ length: 50 }, () => usageEvent());
    const first = events.slice(0, 20).map((event) => meter.record(event));
    // Recorded while the first commit is in flight (the recorder's post takes 5 ms).
    while (batches.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const rest = events.slice(20).map((event) => meter.record(event));
    const outcomes = await Promise.all([...first, ...rest]);
    expect(outcomes.every((outcome) => outcome.status === 'posted')).toBe(true);
    expect(batches.map((batch) => batch.length)).toEqual([20, 30]);
    expect(meter.pending).toBe(0);
  });

  it('groups events recorded in separate macrotasks of one loop turn, even when the post is synchronous', async () => {
    // better-sqlite3 is synchronous: a post that never yields used to commit each event alone.
    const { batches, meter } = sizes();
    // Twenty immediates run one after another in the same check phase, as upstream answers that
    // are ready together run in one poll phase. (Twenty setTimeout(0)s are not due at once on
    // a loaded machine: creating them can span a millisecond, splitting them over two turns.)
    const recorded = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<Promise<UsageOutcome>>((resolve) =>
            setImmediate(() => resolve(meter.record(usageEvent()))),
          ),
      ),
    );
    await Promise.all(recorded);
    expect(batches).toEqual([20]);
  });

  it('lets a batch that grew in the turn just ended wait up to lingerTurns more turns', async () => {
    const run = async (lingerTurns: number) => {
      const { batches, meter } = sizes({ lingerTurns });
      // A commit a moment ago: the meter is busy.
      await meter.record(usageEvent());
      // Two answers in each of six consecutive loop turns, as under load.
      const recorded: Array<Promise<UsageOutcome>> = [];
      await new Promise<void>((done) => {
        let turn = 0;
        const next = () => {
          recorded.push(meter.record(usageEvent()), meter.record(usageEvent()));
          if (++turn < 6) setImmediate(next);
          else done();
        };
        setImmediate(next);
      });
      await Promise.all(recorded);
      return batches;
    };
    // Without lingering, each turn commits its own two; with three turns, four turns share one.
    expect(await run(0)).toEqual([1, 2, 2, 2, 2, 2, 2]);
    expect(await run(3)).toEqual([1, 8, 4]);
  });

  it('commits a lone event of an idle meter in its first turn, with no timer', async () => {
    const { batches, meter } = sizes();
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    await meter.record(usageEvent());
    counting = false;
    expect(batches).toEqual([1]);
    // No commit for a while: no extra turn.
    expect(turns).toBeLessThanOrEqual(1);
  });

  it('tells onCommit each group commit: its duration and its size, failed ones included', async () => {
    const commits: Array<{ ms: number; events: number }> = [];
    const { post } = recorder((events) =>
      events.length === 3
        ? Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
        : undefined,
    );
    const meter = createMeter({ post, onCommit: (ms, events) => commits.push({ ms, events }) });
    await Promise.all(Array.from({ length: 4 }, () => meter.record(usageEvent())));
    await Promise.allSettled([
      meter.record(usageEvent()),
      meter.record(usageEvent()),
      meter.record(usageEvent()),
    ]);
    expect(commits.map((commit) => commit.events)).toEqual([4, 3]);
    // Each post waits 5 ms (the recorder's timer).
    expect(commits.every((commit) => commit.ms >= 4)).toBe(true);
  });

  it('rejects only the event whose payload conflicts', async () => {
    const { post } = recorder();
    const meter = createMeter({ post });
    const results = await Promise.allSettled([
      meter.record(usageEvent()),
      meter.record(usageEvent({ inputTokens: 13 })),
      meter.record(usageEvent()),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('splits a batch that failed on one bad event, so the others still commit', async () => {
    const { batches, post } = recorder((events) =>
      events.length > 1 && events.some((event) => event.outputTokens === 7)
        ? new RangeError('out of range')
        : events[0]?.outputTokens === 7
          ? new RangeError('out of range')
          : undefined,
    );
    const meter = createMeter({ post });
    const first = meter.record(usageEvent());
    const rest = [usageEvent(), usageEvent({ outputTokens: 7 }), usageEvent()].map((event) =>
      meter.record(event),
    );
    const results = await Promise.allSettled([first, ...rest]);
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(batches.map((batch) => batch.length)).toEqual([4, 1, 1, 1, 1]);
  });

  it('refuses a whole batch at once when the store itself fails', async () => {
    const { batches, post } = recorder(() =>
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    );
    const meter = createMeter({ post });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => meter.record(usageEvent())),
    );
    expect(results.every((result) => result.status === 'rejected')).toBe(true);
    expect(batches.map((batch) => batch.length)).toEqual([5]);
    await meter.flush();
  });

  it('refuses an event the store could not hold before queueing it', async () => {
    const { batches, post } = recorder();
    const meter = createMeter({ post });
    await expect(meter.record(usageEvent({ inputTokens: 1.5 }))).rejects.toThrow(RangeError);
    expect(batches).toEqual([]);
  });
});
