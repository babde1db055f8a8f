import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { UsageOutcome } from '../../src/billing/index.js';
import {
  type Channel,
  createClusterClient,
  type Message,
  serveWorker,
} from '../../src/cluster/ipc.js';
import { clusterUsageSink, recordMany } from '../../src/cluster/shared.js';
import { GatewayError } from '../../src/errors/index.js';
import type { UsageEvent } from '../../src/store/index.js';
import { usageEvent } from '../billing/fixtures/events.js';

/**
 * A worker's usage records on their way to the cluster primary, over a real structured-clone
 * channel (a MessageChannel, the same cloning as node:cluster's `advanced` serialization): the
 * events of one loop turn travel as one message, each comes back with its own outcome, and a
 * primary that is gone fails them instead of leaving the answers waiting.
 */

const ports: MessagePort[] = [];

function channel(port: MessagePort, sent: Message[]): Channel {
  ports.push(port);
  return {
    send(message) {
      sent.push(message);
      port.postMessage(message);
    },
    on(event: 'message' | 'disconnect', listener: (message?: unknown) => void) {
      port.on(event === 'message' ? 'message' : 'close', listener);
    },
    off(_event, listener) {
      port.off('message', listener);
    },
  } as Channel;
}

/** A primary whose `record` posts every event but refuses one with 13 input tokens (a conflict). */
function pair() {
  const { port1, port2 } = new MessageChannel();
  const toPrimary: Message[] = [];
  const recorded: string[] = [];
  serveWorker(channel(port2, []), 1, {
    'usage.recordMany': (_worker: number, events: UsageEvent[]) =>
      recordMany(async (event): Promise<UsageOutcome> => {
        recorded.push(event.requestId);
        if (event.inputTokens === 13)
          throw new GatewayError('conflict', { code: 'invalid_request', status: 409 });
        return { status: 'recorded' };
      }, events),
  } as never);
  const client = createClusterClient(channel(port1, toPrimary));
  return { sink: clusterUsageSink(client), toPrimary, recorded, port1 };
}

afterEach(() => {
  for (const port of ports.splice(0)) port.close();
});

describe('cluster usage sink', () => {
  it('sends the events of one loop turn as one message and settles each on its own', async () => {
    const { sink, toPrimary, recorded } = pair();
    const events = Array.from({ length: 20 }, (_, index) =>
      usageEvent({ inputTokens: index === 7 ? 13 : 10 }),
    );
    const results = await Promise.allSettled(events.map((event) => sink.record(event)));
    expect(toPrimary.filter((message) => message.sy === 'call')).toHaveLength(1);
    expect(recorded).toEqual(events.map((event) => event.requestId));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(19);
    const refused = results[7] as PromiseRejectedResult;
    expect(refused.status).toBe('rejected');
    expect(refused.reason).toBeInstanceOf(GatewayError);
    expect((refused.reason as GatewayError).status).toBe(409);
  });

  it('lets a message still growing wait a few turns, then sends what comes later apart', async () => {
    const { sink, toPrimary } = pair();
    // A message a moment ago: the worker is busy.
    await sink.record(usageEvent());
    // Answers in three consecutive turns of a busy worker: one message.
    const first: Array<Promise<UsageOutcome>> = [];
    for (let turn = 0; turn < 3; turn++) {
      first.push(sink.record(usageEvent()), sink.record(usageEvent()));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(first);
    await sink.record(usageEvent());
    const calls = toPrimary.filter((message) => message.sy === 'call');
    expect(calls.map((call) => (call.args[0] as unknown[]).length)).toEqual([1, 6, 1]);
  });

  it('flush waits for a batch still gathering in this turn', async () => {
    const { sink, recorded } = pair();
    let answered = 0;
    for (let index = 0; index < 3; index++) void sink.record(usageEvent()).then(() => answered++);
    await sink.flush();
    expect(recorded).toHaveLength(3);
    expect(answered).toBe(3);
  });

  it('fails the events in flight when the primary goes away', async () => {
    const { sink, port1 } = pair();
    const pending = sink.record(usageEvent());
    // The primary's end closes while the batch is still gathering, or once it is sent.
    setImmediate(() => port1.close());
    await expect(pending).rejects.toThrow(/primary is gone/);
    // Nothing waits for a primary that is gone: a later record fails at once too.
    await expect(sink.record(usageEvent())).rejects.toThrow(/primary is gone/);
    await sink.flush();
  });
});
