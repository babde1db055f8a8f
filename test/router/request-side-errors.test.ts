import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { createAdapters } from '../../src/providers/index.js';
import { createCatalog } from '../../src/router/catalog.js';
import { type AttemptRecord, createExecutor } from '../../src/router/executor.js';
import { createHealthTracker } from '../../src/router/health.js';
import { createPolicy } from '../../src/router/policy.js';
import { createTransport, type Transport } from '../../src/transport/http.js';
import { decodeSse } from '../../src/transport/sse.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';

/**
 * A request the gateway cannot serialise (nested so deeply that JSON.stringify overflows the
 * stack: possible for bodies built in-process, such as the runtime's, which skip the edge's
 * depth check) is the request's failure: a 400, one attempt, no failover to the second
 * deployment, and no failure counted against either deployment's breaker.
 */

let upstream: FakeUpstream;
let transport: Transport;
beforeAll(async () => {
  upstream = await startFakeUpstream();
  transport = createTransport({ bodyTimeoutMs: 0 });
});
afterAll(async () => {
  await transport.close();
  await upstream.close();
});

function deepObject(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

describe('request-side failures', () => {
  it('a body that cannot be serialised is a 400 that neither retries, fails over nor opens a breaker', async () => {
    const config = validateConfig({
      store: 'sqlite::memory:',
      routing: { retries: 3 },
      providers: {
        first: { type: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-first' },
        second: { type: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-second' },
      },
      models: {
        chat: {
          deployments: [
            { provider: 'first', model: 'gpt-x' },
            { provider: 'second', model: 'gpt-x' },
          ],
        },
      },
    });
    const health = createHealthTracker(Date.now, { failureThreshold: 1 });
    const executor = createExecutor({
      adapters: createAdapters(config, { env: {}, now: Date.now }),
      transport,
      health,
      policy: createPolicy({ routing: config.routing, health }),
      routing: config.routing,
      clock: Date.now,
      decoders: { sse: decodeSse },
    });
    const model = createCatalog(config).get('chat')!;
    for (let i = 0; i < 3; i++) {
      const attempts: AttemptRecord[] = [];
      const failure = await executor
        .execute(
          model,
          {
            requestId: `req_${i}`,
            operation: 'chat',
            body: {
              model: 'chat',
              messages: [{ role: 'user', content: 'hi' }],
              metadata: deepObject(1_000_000),
            } as never,
            stream: false,
            signal: new AbortController().signal,
          },
          attempts,
        )
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failure).toMatchObject({ status: 400, code: 'invalid_request', retryable: false });
      expect(attempts).toHaveLength(1);
    }
    expect(upstream.requests).toHaveLength(0);
    for (const key of ['first/gpt-x', 'second/gpt-x']) {
      expect(health.get(key).state).toBe('closed');
      expect(health.get(key).consecutiveFailures).toBe(0);
    }
  });
});
