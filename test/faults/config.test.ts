import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { spoolDirFor } from '../../src/wiring/usage.js';

/** `store:` as a URL or as an object, the Redis timeouts and `auth.keyCache`, with defaults. */

describe('store, Redis and key cache config', () => {
  it('reads `store: <url>` as the object with every default', () => {
    const config = parseConfig('store: postgres://u@db:5432/x\n');
    expect(config.store).toEqual({
      url: 'postgres://u@db:5432/x',
      pool: {
        size: 10,
        connectTimeoutMs: 5000,
        acquireTimeoutMs: 5000,
        statementTimeoutMs: 30000,
        queryTimeoutMs: 35000,
        idleInTransactionTimeoutMs: 60000,
        idleTimeoutMs: 30000,
        keepAlive: true,
        keepAliveInitialDelayMs: 10000,
      },
      spool: { enabled: true, commitTimeoutMs: 2000, replayIntervalMs: 1000 },
      readyTimeoutMs: 2000,
    });
    expect(config.redisConnectTimeoutMs).toBe(2000);
    expect(config.redisCommandTimeoutMs).toBe(150);
    expect(config.auth.keyCache).toEqual({
      ttlMs: 500,
      staleWhileErrorMs: 300000,
      lookupTimeoutMs: 2000,
    });
  });

  it('defaults to the SQLite file, with the spool next to it', () => {
    const config = parseConfig('logging: { level: silent }\n');
    expect(config.store.url).toBe('sqlite:./data/switchyard.db');
    expect(spoolDirFor(config.store)).toMatch(/\/data\/spool$/);
    expect(spoolDirFor(parseConfig('store: "sqlite::memory:"\n').store)).toBeUndefined();
  });

  it('takes the object form and names the path of a bad field', () => {
    const config = parseConfig(
      'store:\n  url: postgres://db/x\n  pool: { size: 25, queryTimeoutMs: 0 }\n  spool: { dir: /var/spool/sy }\n',
    );
    expect(config.store.pool.size).toBe(25);
    expect(config.store.pool.queryTimeoutMs).toBe(0);
    expect(spoolDirFor(config.store)).toBe('/var/spool/sy');
    expect(() => parseConfig('store:\n  url: postgres://db/x\n  pool: { size: 0 }\n')).toThrow(
      ConfigError,
    );
    try {
      parseConfig('store:\n  url: postgres://db/x\n  pool: { sise: 3 }\n');
    } catch (error) {
      expect((error as ConfigError).problems[0]!.path).toMatch(/^store/);
    }
  });
});
