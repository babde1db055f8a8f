import { describe, expect, it } from 'vitest';
import { abortSignalOf, ClientAbort, onAbort } from '../../src/transport/abort.js';

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
