/**
 * The opaque `encrypted_content` of reasoning and compaction items that Switchyard mints.
 *
 * A cloud-neutral runtime cannot hand out one cloud's encrypted blob: the next turn may go to
 * another cloud. So the field carries Switchyard's own envelope, `swy.<kind>.v1.` + base64url
 * of JSON: for reasoning the provider's reasoning text and signature (Anthropic/Bedrock
 * thinking signature, Gemini `gemini:` signature), for compaction the summary text. It is
 * encoded, not encrypted: it only ever holds what the model already returned to this client.
 * Blobs minted elsewhere (OpenAI's own) decode to undefined and are left out of the context.
 */

const REASONING_PREFIX = 'swy.rs.v1.';
const COMPACTION_PREFIX = 'swy.cmp.v1.';

/** Reasoning as providers return it in the internal representation. */
export interface ReasoningPayload {
  text: string;
  signature?: string | undefined;
  /** Logical model that produced it: signatures only verify on the model (cloud) that made them. */
  model?: string | undefined;
}

/** A compaction summary and the model that wrote it. */
export interface CompactionPayload {
  summary: string;
  model?: string | undefined;
}

/** Encodes reasoning for a `reasoning` item's `encrypted_content`. */
export function encodeReasoning(payload: ReasoningPayload): string {
  return REASONING_PREFIX + Buffer.from(JSON.stringify(payload)).toString('base64url');
}

/** Decodes a Switchyard reasoning envelope; undefined for anything else. */
export function decodeReasoning(value: unknown): ReasoningPayload | undefined {
  const parsed = decode(value, REASONING_PREFIX);
  if (!parsed || typeof parsed['text'] !== 'string') return undefined;
  const payload: ReasoningPayload = { text: parsed['text'] };
  if (typeof parsed['signature'] === 'string') payload.signature = parsed['signature'];
  if (typeof parsed['model'] === 'string') payload.model = parsed['model'];
  return payload;
}

/** Encodes a summary for a `compaction` item's `encrypted_content`. */
export function encodeCompaction(payload: CompactionPayload): string {
  return COMPACTION_PREFIX + Buffer.from(JSON.stringify(payload)).toString('base64url');
}

/** Decodes a Switchyard compaction envelope; undefined for anything else. */
export function decodeCompaction(value: unknown): CompactionPayload | undefined {
  const parsed = decode(value, COMPACTION_PREFIX);
  if (!parsed || typeof parsed['summary'] !== 'string') return undefined;
  return typeof parsed['model'] === 'string'
    ? { summary: parsed['summary'], model: parsed['model'] }
    : { summary: parsed['summary'] };
}

function decode(value: unknown, prefix: string): Record<string, unknown> | undefined {
  if (typeof value !== 'string' || !value.startsWith(prefix)) return undefined;
  try {
    const parsed: unknown = JSON.parse(
      Buffer.from(value.slice(prefix.length), 'base64url').toString('utf8'),
    );
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
