import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDurableSink } from '../../src/billing/durable-sink.js';
import type { UsageOutcome } from '../../src/billing/post-usage.js';
import { createSpool, type ReplayResult } from '../../src/billing/spool.js';
import { GatewayError } from '../../src/errors/index.js';
import type { UsageEvent } from '../../src/store/index.js';

/** The spool and the durable sink on a real directory (no store: the commit is a function here). */

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-spool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function event(requestId: string): UsageEvent {
  return {
    requestId,
    createdAt: 1_750_000_000_000,
    tenantId: 'default',
    projectId: 'default',
    keyId: null,
    surface: 'openai.chat',
    modelRequested: 'm',
    model: 'm',
    deployment: 'd',
    upstreamModel: 'u',
    partner: null,
    attempts: 1,
    attemptLog: [],
    inputTokens: 10,
    cachedInputTokens: 0,
    outputTokens: 5,
    reasoningTokens: 0,
    latencyMs: 12,
    ttfbMs: 3,
    status: 'ok',
    httpStatus: 200,
    errorCode: null,
    stream: false,
    sandbox: false,
    metadata: null,
  } as UsageEvent;
}

const committedAll = async (events: UsageEvent[]): Promise<ReplayResult[]> =>
  events.map(() => 'committed');

describe('usage spool', () => {
  it('appends durably, replays every event once and removes replayed segments', async () => {
    const spool = createSpool({ dir });
    await Promise.all(['a', 'b', 'c'].map((id) => spool.append(event(id))));
    expect(spool.stats()).toMatchObject({ spooled: 3, waiting: 3 });
    const seen: string[] = [];
    const replayed = await spool.replay(async (events) => {
      seen.push(...events.map((item) => item.requestId));
      return committedAll(events);
    });
    expect(replayed).toBe(3);
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
    expect(spool.stats()).toMatchObject({ replayed: 3, waiting: 0, oldestAt: null });
    expect(readdirSync(dir)).toEqual([]);
    await spool.close();
  });

  it('keeps a segment when the store is still away, and replays it later', async () => {
    const spool = createSpool({ dir });
    await spool.append(event('x'));
    await expect(
      spool.replay(async () => {
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      }),
    ).rejects.toThrow('ECONNREFUSED');
    expect(spool.stats().waiting).toBe(1);
    expect(spool.stats().oldestAt).not.toBeNull();
    expect(await spool.replay(committedAll)).toBe(1);
    expect(spool.stats().waiting).toBe(0);
  });

  it('takes over the segments of a process that died (same pid, another start), torn last line ignored', async () => {
    const dead = createSpool({ dir });
    await dead.append(event('d1'));
    await dead.append(event('d2'));
    // kill -9 inside a write: a partial line that was never acknowledged.
    const open = readdirSync(dir).find((name) => name.endsWith('.open'))!;
    appendFileSync(join(dir, open), '{"spooledAt":1,"event":{"requestId":"torn"');
    const next = createSpool({ dir });
    const seen: string[] = [];
    await next.replay(async (events) => {
      seen.push(...events.map((item) => item.requestId));
      return committedAll(events);
    });
    expect(seen).toEqual(['d1', 'd2']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('sets aside events the store refuses for their data, never drops them', async () => {
    const spool = createSpool({ dir });
    await spool.append(event('good'));
    await spool.append(event('conflict'));
    await spool.replay(async (events) =>
      events.map((item) => (item.requestId === 'conflict' ? 'rejected' : 'committed')),
    );
    expect(spool.stats()).toMatchObject({ replayed: 1, rejected: 1, waiting: 0 });
    const rejected = readFileSync(join(dir, 'rejected.jsonl'), 'utf8').trim().split('\n');
    expect(rejected.map((line) => JSON.parse(line).event.requestId)).toEqual(['conflict']);
  });
});

describe('durable sink', () => {
  const posted: UsageOutcome = { status: 'recorded' };

  it('spools when the commit fails or takes too long, and replays once the store is back', async () => {
    let storeUp = false;
    const committed = new Set<string>();
    const sink = createDurableSink({
      commit: async (item) => {
        if (!storeUp) throw Object.assign(new Error('Connection terminated unexpectedly'), {});
        committed.add(item.requestId);
        return posted;
      },
      spool: createSpool({ dir }),
      commitTimeoutMs: 50,
      replayIntervalMs: 10_000,
    });
    expect(await sink.record(event('r1'))).toEqual({ status: 'spooled' });
    // Known to be failing: the next event is spooled without waiting for a commit.
    expect(await sink.record(event('r2'))).toEqual({ status: 'spooled' });
    expect(sink.stats()).toMatchObject({ spooled: 2, waiting: 2 });
    await expect(sink.replay()).rejects.toThrow('Connection terminated');
    storeUp = true;
    expect(await sink.replay()).toBe(2);
    expect([...committed].sort()).toEqual(['r1', 'r2']);
    expect(await sink.record(event('r3'))).toEqual(posted);
    await sink.stop();
  });

  it('spools a commit that hangs past the commit timeout', async () => {
    const sink = createDurableSink({
      commit: () => new Promise<UsageOutcome>(() => {}),
      spool: createSpool({ dir }),
      commitTimeoutMs: 30,
      replayIntervalMs: 10_000,
    });
    expect(await sink.record(event('slow'))).toEqual({ status: 'spooled' });
    expect(sink.stats()?.waiting).toBe(1);
    await sink.stop();
  });

  it('does not spool a conflict: that is about the data, not the store', async () => {
    const conflict = new GatewayError('conflict', { code: 'invalid_request', status: 409 });
    const sink = createDurableSink({
      commit: async () => {
        throw conflict;
      },
      spool: createSpool({ dir }),
      commitTimeoutMs: 50,
      replayIntervalMs: 10_000,
    });
    await expect(sink.record(event('c'))).rejects.toBe(conflict);
    expect(sink.stats()?.spooled).toBe(0);
    await sink.stop();
  });
});
