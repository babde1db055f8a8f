import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readAll } from '../../src/transport/read-all.js';

describe('readAll', () => {
  it('joins the chunks of a body that ends', async () => {
    const body = Readable.from([Buffer.from('{"a":'), Buffer.from('1}')], { objectMode: false });
    const read = await readAll(body, 1024);
    expect(read).toEqual({ body: Buffer.from('{"a":1}'), over: false });
  });

  it('stops once more than the limit has come, and says so', async () => {
    const body = new PassThrough();
    const reading = readAll(body, 4);
    body.write('abc');
    body.write('defg');
    const read = await reading;
    expect(read.over).toBe(true);
    expect(read.body.toString()).toBe('abcdefg');
  });

  it("rejects with the stream's error", async () => {
    const body = new PassThrough();
    const reading = readAll(body, 1024);
    body.write('abc');
    body.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await expect(reading).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('rejects when the stream closes before its end', async () => {
    const body = new PassThrough();
    const reading = readAll(body, 1024);
    body.write('abc');
    body.destroy();
    await expect(reading).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('answers at once for a stream already ended or already destroyed', async () => {
    const ended = Readable.from([]);
    for await (const _ of ended) void _;
    expect(await readAll(ended, 10)).toEqual({ body: Buffer.alloc(0), over: false });
    const destroyed = new PassThrough();
    // The stream's own 'error' event has its owner's listener in real use (node:http, undici).
    destroyed.on('error', () => {});
    destroyed.destroy(new Error('gone'));
    await expect(readAll(destroyed, 10)).rejects.toThrow('gone');
  });
});
