import { describe, expect, it } from 'vitest';
import { abortSignalOf, AttemptAbort, ClientAbort, onAbort } from '../../src/transport/abort.js';

describe('ClientAbort (the client leaving, without an AbortController per request)', () => {
  it('makes no AbortSignal until one is asked for, and that one follows the abort', () => {
    const client = new ClientAbort();
    const signal = client.signal;
    expect(client.signal).toBe(signal);
    expect(signal.aborted).toBe(false);
    const reason = new Error('client left');
    client.abort(reason);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
  });

  it('hands out an already aborted signal when asked after the abort', () => {
    const client = new ClientAbort();
    const reason = new Error('gone');
    client.abort(reason);
    client.abort(new Error('second'));
    expect(client.reason).toBe(reason);
    expect(client.signal.aborted).toBe(true);
    expect(client.signal.reason).toBe(reason);
  });

  it('onAbort listens once on either kind and can stop listening', () => {
    for (const make of [
      () => {
        const client = new ClientAbort();
        return { signal: client, fire: () => client.abort('x') };
      },
      () => {
        const controller = new AbortController();
        return { signal: controller.signal, fire: () => controller.abort('x') };
      },
    ]) {
      const heard: string[] = [];
      const first = make();
      onAbort(first.signal, () => heard.push('a'));
      first.fire();
      first.fire();
      const second = make();
      const stop = onAbort(second.signal, () => heard.push('b'));
      stop();
      second.fire();
      expect(heard).toEqual(['a']);
      expect(abortSignalOf(second.signal).aborted).toBe(true);
    }
  });
});

describe('AttemptAbort (what undici needs of a signal, for an event that fires once)', () => {
  it('fires each listener once, with aborted and reason set, and leaves none behind', () => {
    const abort = new AttemptAbort();
    const heard: unknown[] = [];
    const first = () => heard.push(['first', abort.aborted, abort.reason]);
    const second = () => heard.push('second');
    const removed = () => heard.push('removed');
    abort.once('abort', first);
    abort.on('abort', second);
    abort.addListener('abort', removed);
    abort.removeListener('abort', removed);
    expect(abort.listenerCount('abort')).toBe(2);
    abort.abort('timeout');
    abort.abort('again');
    expect(heard).toEqual([['first', true, 'timeout'], 'second']);
    expect(abort.reason).toBe('timeout');
    expect(abort.listenerCount('abort')).toBe(0);
    abort.on('abort', second);
    expect(abort.listenerCount('abort')).toBe(0);
  });

  it('aborts an undici request in flight, and undici leaves no listener on it', async () => {
    const { createServer } = await import('node:http');
    const { request } = await import('undici');
    const server = createServer((_request, response) => {
      response.writeHead(200);
      response.write('partial');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const done = new AttemptAbort();
      const ok = await request(`http://127.0.0.1:${port}/`, { signal: done as never });
      expect(ok.statusCode).toBe(200);
      const abort = new AttemptAbort();
      const answer = await request(`http://127.0.0.1:${port}/`, { signal: abort as never });
      const reading = answer.body.text();
      abort.abort(new Error('stop'));
      await expect(reading).rejects.toThrow();
      ok.body.destroy();
      expect(abort.listenerCount('abort')).toBe(0);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
