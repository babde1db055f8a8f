import { Redis } from 'ioredis';

/**
 * The Redis server for tests: `SWITCHYARD_TEST_REDIS` or redis://127.0.0.1:6379. Returns
 * undefined when unreachable on a laptop (tests skip with a message); in CI it must be there.
 */
export async function redisTestUrl(): Promise<string | undefined> {
  const url = process.env['SWITCHYARD_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return url;
  } catch (error) {
    if (process.env['CI'] || process.env['SWITCHYARD_TEST_REDIS'])
      throw new Error(`Redis at ${url} is required here: ${(error as Error).message}`);
    return undefined;
  } finally {
    client.disconnect();
  }
}

/** A unique key prefix per test run, so runs never see each other's keys. */
export function uniquePrefix(name: string): string {
  return `switchyard-test:${name}:${process.pid}:${Date.now()}:${Math.random().toString(36).slice(2, 8)}:`;
}
