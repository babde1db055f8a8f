import { createHash } from 'node:crypto';

/**
 * How a Gemini `functionCall` survives a round trip through an OpenAI client.
 *
 * Gemini 3 returns a `thoughtSignature` on function-call parts and rejects the next turn with
 * `400 Function call is missing a thought_signature` unless it comes back unchanged on the same
 * part. Some models also return a call `id` that `functionResponse.id` should echo. OpenAI
 * clients echo only `id`, `type` and `function` of a tool call, so both travel **inside the tool
 * call id**:
 *
 * - `call_<24 base62>`: nothing to send back; a stable hash of (response id, candidate, call
 *   ordinal, name, arguments), identical for streamed and whole answers.
 * - `call_sig_<base64url payload>`: payload bytes are `[flags][idLength id]?[signature]`;
 *   flag 1 = a Gemini call id follows, flag 2 = the signature is standard base64 stored as its
 *   raw bytes (else UTF-8). So the id is about as long as the signature itself (often a few
 *   hundred characters up to a few KB): fine for OpenAI, Anthropic and Responses clients, which
 *   treat ids as opaque strings. A hash id never contains `_` after `call_`, so the forms
 *   cannot collide. Ids minted elsewhere (another provider after a failover) decode to nothing.
 */

const PREFIX = 'call_';
const CARRIER_PREFIX = 'call_sig_';
const HAS_ID = 1;
const BASE64_SIGNATURE = 2;
const BASE62 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** What a Gemini function call needs back on the next turn. */
export interface CallCarrier {
  signature?: string | undefined;
  geminiId?: string | undefined;
}

const REASONING_TAG = 'gemini:';

/**
 * Tags a signature from a text or thought part for `reasoning_signature`. The field is shared
 * with other providers (Anthropic replays it inside a thinking block), so Gemini's are marked
 * `gemini:<signature>`: other adapters can skip them, and Gemini never receives theirs.
 */
export function tagReasoningSignature(signature: string): string {
  return REASONING_TAG + signature;
}

/** The Gemini signature inside a `reasoning_signature`, or undefined when another provider minted it. */
export function untagReasoningSignature(value: string | undefined): string | undefined {
  return value?.startsWith(REASONING_TAG) ? value.slice(REASONING_TAG.length) : undefined;
}

/** Where a function call sits, for the stable hash id. */
export interface CallPosition {
  responseId: string;
  candidate: number;
  ordinal: number;
  name: string;
  args: string;
}

/**
 * Builds the OpenAI tool call id for a Gemini function call.
 * @example encodeToolCallId({ signature: 'c2ln' }, position) // → 'call_sig_AnNpZw'
 */
export function encodeToolCallId(carrier: CallCarrier, position: CallPosition): string {
  const { signature, geminiId } = carrier;
  const idBytes = geminiId ? Buffer.from(geminiId, 'utf8') : undefined;
  if (!signature && !idBytes) return PREFIX + hashId(position);
  let flags = 0;
  const pieces: Buffer[] = [];
  if (idBytes && idBytes.length <= 255) {
    flags |= HAS_ID;
    pieces.push(Buffer.from([idBytes.length]), idBytes);
  }
  if (signature) {
    const raw = STANDARD_BASE64.test(signature) ? Buffer.from(signature, 'base64') : undefined;
    if (raw && raw.toString('base64') === signature) {
      flags |= BASE64_SIGNATURE;
      pieces.push(raw);
    } else pieces.push(Buffer.from(signature, 'utf8'));
  }
  if (flags === 0 && !signature) return PREFIX + hashId(position);
  return CARRIER_PREFIX + Buffer.concat([Buffer.from([flags]), ...pieces]).toString('base64url');
}

/** Reads back what {@link encodeToolCallId} stored; ids minted elsewhere give `{}`. */
export function decodeToolCallId(id: string): CallCarrier {
  if (!id.startsWith(CARRIER_PREFIX)) return {};
  const payload = id.slice(CARRIER_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(payload)) return {};
  const bytes = Buffer.from(payload, 'base64url');
  const flags = bytes[0];
  if (flags === undefined || flags > (HAS_ID | BASE64_SIGNATURE)) return {};
  let offset = 1;
  const carrier: CallCarrier = {};
  if (flags & HAS_ID) {
    const length = bytes[offset] ?? 0;
    if (offset + 1 + length > bytes.length) return {};
    carrier.geminiId = bytes.subarray(offset + 1, offset + 1 + length).toString('utf8');
    offset += 1 + length;
  }
  const rest = bytes.subarray(offset);
  if (rest.length > 0)
    carrier.signature = flags & BASE64_SIGNATURE ? rest.toString('base64') : rest.toString('utf8');
  return carrier;
}

function hashId(position: CallPosition): string {
  const digest = createHash('sha256')
    .update(
      `${position.responseId}\n${position.candidate}\n${position.ordinal}\n${position.name}\n${position.args}`,
    )
    .digest();
  let out = '';
  for (let i = 0; i < 24; i++) out += BASE62[digest[i]! % 62];
  return out;
}
