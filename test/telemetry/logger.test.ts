import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLogger, isoTime, LineBatcher, plainLogger } from '../../src/telemetry/logger.js';

/** The process logger: asynchronous stdout that still flushes at exit, redaction where it matters. */

const loggerModule = fileURLToPath(new URL('../../src/telemetry/logger.ts', import.meta.url));

function lines(stream: PassThrough): Array<Record<string, unknown>> {
  const text = (stream.read() as Buffer | null)?.toString() ?? '';
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('logger', () => {
  it('redacts secret-bearing fields on ordinary lines', () => {
    const stream = new PassThrough();
    const logger = createLogger({ level: 'info', destination: stream });
    logger.warn(
      { apiKey: 'sk-live-1', err: { headers: { authorization: 'Bearer sk-live-2' } } },
      'upstream refused',
    );
    const [line] = lines(stream);
    expect(line!['apiKey']).toBe('[redacted]');
    expect(JSON.stringify(line)).not.toContain('sk-live');
  });

  it('writes the per-request line with its fields through the plain child', () => {
    const stream = new PassThrough();
    const requestLog = plainLogger(createLogger({ level: 'info', destination: stream }));
    requestLog.info(
      { requestId: 'req_1', method: 'POST', path: '/v1/chat/completions', status: 200, ms: 1.5 },
      'request',
    );
    const [line] = lines(stream);
    expect(line).toMatchObject({
      service: 'switchyard',
      requestId: 'req_1',
      method: 'POST',
      path: '/v1/chat/completions',
      status: 200,
      ms: 1.5,
      msg: 'request',
    });
  });

  it('buffers stdout asynchronously and still writes every line when the process exits at once', () => {
    // A child logs 2,000 lines (more than the writer's buffer) and exits in the same tick:
    // without the exit flush the tail of the buffer would be lost.
    const script = `
      const { createLogger } = await import(${JSON.stringify(loggerModule)});
      const logger = createLogger({ level: 'info' });
      for (let i = 0; i < 2000; i++) logger.info({ i }, 'line');
      logger.error({ token: 'sk-secret' }, 'fatal');
      process.exit(3);
    `;
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(child.status).toBe(3);
    const written = child.stdout.trim().split('\n');
    expect(written).toHaveLength(2001);
    expect(JSON.parse(written.at(-1)!)).toMatchObject({ msg: 'fatal', token: '[redacted]' });
  });
});

describe('isoTime (the time field, its text made once per second)', () => {
  it('writes what pino.stdTimeFunctions.isoTime writes, for any millisecond', () => {
    const start = Date.UTC(2026, 11, 5, 23, 59, 58, 990);
    for (const now of [
      0,
      5,
      99,
      100,
      999,
      1000,
      start,
      ...Array.from({ length: 40 }, (_, i) => start + i * 7),
    ]) {
      expect(isoTime(now)).toBe(`,"time":"${new Date(now).toISOString()}"`);
    }
  });

  it('is the time field of the lines', () => {
    const stream = new PassThrough();
    const before = Date.now();
    createLogger({ level: 'info', destination: stream }).info('hello');
    const [line] = lines(stream);
    const at = Date.parse(String(line!['time']));
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});

describe('LineBatcher (stdout lines handed to the writer in batches)', () => {
  it('hands lines over once a batch is gathered, and the rest when asked, in order', () => {
    const writes: string[] = [];
    let synced = 0;
    const writer = {
      write: (text: string) => void writes.push(text),
      flushSync: () => void (synced += 1),
    } as unknown as ConstructorParameters<typeof LineBatcher>[0];
    const batcher = new LineBatcher(writer, 100);
    for (let i = 0; i < 9; i++) batcher.write(`${'x'.repeat(20)}${i}\n`);
    expect(writes).toHaveLength(1);
    expect(writes[0]!.split('\n').filter(Boolean)).toHaveLength(5);
    batcher.hand();
    batcher.hand();
    expect(writes).toHaveLength(2);
    batcher.write('last\n');
    batcher.flushSync();
    expect(synced).toBe(1);
    expect(writes.join('')).toBe(
      `${Array.from({ length: 9 }, (_, i) => `${'x'.repeat(20)}${i}\n`).join('')}last\n`,
    );
  });
});
