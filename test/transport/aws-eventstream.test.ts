import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  decodeEventStream,
  encodeErrorFrame,
  encodeEventFrame,
  encodeExceptionFrame,
} from '../../src/transport/aws-eventstream.js';
import type { UpstreamFrame } from '../../src/providers/adapter.js';

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(source: AsyncIterable<UpstreamFrame>): Promise<UpstreamFrame[]> {
  const out: UpstreamFrame[] = [];
  for await (const frame of source) out.push(frame);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

describe('AWS event stream codec', () => {
  it('encodes the documented framing (lengths and both CRCs)', () => {
    const frame = encodeEventFrame('contentBlockDelta', {
      contentBlockIndex: 0,
      delta: { text: 'Hello' },
      p: 'abcd',
    });
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    expect(view.getUint32(0)).toBe(frame.length);
    expect(view.getUint32(8)).toBe(crc32(frame.subarray(0, 8)));
    expect(view.getUint32(frame.length - 4)).toBe(crc32(frame.subarray(0, frame.length - 4)));
    const headersLength = view.getUint32(4);
    const payload = Buffer.from(frame.subarray(12 + headersLength, frame.length - 4)).toString(
      'utf8',
    );
    expect(JSON.parse(payload)).toEqual({
      contentBlockIndex: 0,
      delta: { text: 'Hello' },
      p: 'abcd',
    });
  });

  it('round-trips events, exceptions and errors split at every chunk size', async () => {
    const stream = concat(
      encodeEventFrame('messageStart', { role: 'assistant' }),
      encodeEventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'héllo 👋' } }),
      encodeExceptionFrame('throttlingException', 'Too many tokens'),
      encodeErrorFrame('InternalFailure', 'boom'),
    );
    for (const size of [1, 3, 7, 64, stream.length]) {
      const frames = await collect(decodeEventStream(pieces(stream, size)));
      expect(frames.map((f) => [f.messageType, f.event])).toEqual([
        ['event', 'messageStart'],
        ['event', 'contentBlockDelta'],
        ['exception', 'throttlingException'],
        ['error', 'InternalFailure'],
      ]);
      expect(JSON.parse(frames[1]!.data)).toEqual({
        contentBlockIndex: 0,
        delta: { text: 'héllo 👋' },
      });
      expect(JSON.parse(frames[2]!.data)).toEqual({ message: 'Too many tokens' });
      expect(JSON.parse(frames[3]!.data)).toEqual({ message: 'boom' });
      expect(frames[0]!.headers).toMatchObject({
        ':content-type': 'application/json',
        ':message-type': 'event',
      });
    }
  });

  it('throws upstream_bad_response on a corrupted payload (message CRC)', async () => {
    const frame = encodeEventFrame('contentBlockDelta', {
      contentBlockIndex: 0,
      delta: { text: 'Hello' },
    });
    frame[frame.length - 8]! ^= 0xff;
    await expect(collect(decodeEventStream(pieces(frame, 5)))).rejects.toMatchObject({
      code: 'upstream_bad_response',
      errorClass: 'bad_response',
    });
  });

  it('throws upstream_bad_response on a corrupted prelude (prelude CRC)', async () => {
    const frame = encodeEventFrame('messageStart', { role: 'assistant' });
    frame[5]! ^= 0x01;
    await expect(collect(decodeEventStream(pieces(frame, 1000)))).rejects.toMatchObject({
      code: 'upstream_bad_response',
    });
  });

  it('throws when the stream ends inside a frame, after yielding the complete ones', async () => {
    const whole = encodeEventFrame('messageStart', { role: 'assistant' });
    const cut = encodeEventFrame('messageStop', { stopReason: 'end_turn' }).subarray(0, 10);
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const frame of decodeEventStream(pieces(concat(whole, cut), 4)))
          seen.push(frame.event ?? '');
      })(),
    ).rejects.toMatchObject({ code: 'upstream_bad_response' });
    expect(seen).toEqual(['messageStart']);
  });

  it('rejects an impossible length prefix without buffering', async () => {
    const bogus = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    await expect(collect(decodeEventStream(pieces(bogus, 8)))).rejects.toMatchObject({
      code: 'upstream_bad_response',
    });
  });
});
