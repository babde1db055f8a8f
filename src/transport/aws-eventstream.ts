import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { GatewayError } from '../errors/index.js';
import type { UpstreamFrame } from '../providers/adapter.js';

/**
 * AWS event stream framing (`application/vnd.amazon.eventstream`), as Bedrock ConverseStream
 * uses it: length-prefixed binary messages with a prelude CRC and a message CRC.
 * https://docs.aws.amazon.com/lexv2/latest/dg/event-stream-encoding.html
 * See ../shared/protocols/bedrock.md §6.
 */

/** The content type of an AWS event stream. */
export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

/** Prelude (8) + prelude CRC (4) + message CRC (4). */
const FRAME_OVERHEAD = 16;
/** Refuse frames above this size: a corrupt length prefix must not make us buffer gigabytes. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/**
 * Decodes an AWS event stream into frames. Splits on the `total_len` prefix across arbitrary
 * chunk boundaries and lets `EventStreamCodec` check both CRCs. A bad CRC, an impossible length
 * or a stream that ends mid-frame throws a GatewayError `upstream_bad_response`.
 *
 * Frames carry `messageType` (`:message-type`), `event` (`:event-type`, `:exception-type` or
 * `:error-code`), `data` (the UTF-8 payload; for `error` frames `:error-message` when the
 * payload is empty) and every header as a string.
 */
export async function* decodeEventStream(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<UpstreamFrame> {
  let buffer: Uint8Array = new Uint8Array(0);
  for await (const piece of body) {
    buffer = buffer.length === 0 ? piece : concat(buffer, piece);
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const total = readUint32(buffer, offset);
      if (total < FRAME_OVERHEAD || total > MAX_FRAME_BYTES)
        throw badFrame(`impossible frame length ${total}`);
      if (buffer.length - offset < total) break;
      yield toFrame(buffer.subarray(offset, offset + total));
      offset += total;
    }
    // Copy the remainder so a consumed chunk is not kept alive by a small tail.
    buffer = offset === 0 ? buffer : buffer.slice(offset);
  }
  if (buffer.length > 0)
    throw badFrame(`stream ended inside a frame (${buffer.length} bytes left)`);
}

/** Decodes one complete message (CRCs checked) into a frame. */
function toFrame(bytes: Uint8Array): UpstreamFrame {
  let message: ReturnType<typeof codec.decode>;
  try {
    message = codec.decode(bytes);
  } catch (error) {
    throw badFrame((error as Error).message, error);
  }
  const headers: Record<string, string> = {};
  for (const [name, header] of Object.entries(message.headers)) {
    headers[name] = header.type === 'binary' ? toUtf8(header.value) : String(header.value);
  }
  const messageType = headers[':message-type'];
  const type = messageType === 'exception' || messageType === 'error' ? messageType : 'event';
  const event =
    type === 'exception'
      ? headers[':exception-type']
      : type === 'error'
        ? headers[':error-code']
        : headers[':event-type'];
  let data = toUtf8(message.body);
  if (type === 'error' && data === '')
    data = JSON.stringify({ message: headers[':error-message'] ?? 'Unknown error' });
  return { event, data, messageType: type, headers };
}

/**
 * Encodes one event frame (`:message-type: event`) with a JSON payload.
 *
 * @example
 * encodeEventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hi' } })
 */
export function encodeEventFrame(eventType: string, payload: object): Uint8Array {
  return encode(
    {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    payload,
  );
}

/**
 * Encodes one modeled exception frame (`:message-type: exception`). `exceptionType` is the
 * union member name in lower camel case (`throttlingException`); the payload is
 * `{"message": ...}` plus any `extra` members (`originalStatusCode` for modelStreamErrorException).
 */
export function encodeExceptionFrame(
  exceptionType: string,
  message: string,
  extra: Record<string, unknown> = {},
): Uint8Array {
  return encode(
    {
      ':exception-type': { type: 'string', value: exceptionType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    { message, ...extra },
  );
}

/** Encodes an unmodeled error frame (`:message-type: error`, `:error-code`, `:error-message`). */
export function encodeErrorFrame(errorCode: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':error-code': { type: 'string', value: errorCode },
      ':error-message': { type: 'string', value: message },
      ':message-type': { type: 'string', value: 'error' },
    },
    body: new Uint8Array(0),
  });
}

function encode(headers: MessageHeaders, payload: object): Uint8Array {
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(payload)) });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getUint32(0, false);
}

function badFrame(detail: string, cause?: unknown): GatewayError {
  return new GatewayError(`Malformed AWS event stream: ${detail}`, {
    code: 'upstream_bad_response',
    status: 502,
    errorClass: 'bad_response',
    cause,
  });
}
