import { createRequire } from 'node:module';

type O200k = typeof import('gpt-tokenizer/encoding/o200k_base');

// Client text is data, not control: special-token strings such as `<|endoftext|>` count as plain text.
const PLAIN = { disallowedSpecial: new Set<string>() };
let tokenizer: O200k | undefined;

/**
 * gpt-tokenizer's o200k_base, loaded at its first use instead of at start-up. Its tables hold
 * about 20 MB of heap, and every major GC marks the whole old generation again: with them loaded,
 * a proxied stream cost about 10% more CPU (docs/benchmarks.md), though the proxy path counts
 * tokens only for token limits, commitments, context-window rules, count_tokens and the sandbox.
 * Loading takes about 150 ms, once per process; {@link loadTokenizer} pays it up front where
 * every request counts (the sandbox clouds).
 */
export function loadTokenizer(): O200k {
  tokenizer ??= createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as O200k;
  return tokenizer;
}

/** o200k_base tokens in `text`; special-token strings count as plain text. */
export function o200kTokens(text: string): number {
  return text === '' ? 0 : loadTokenizer().countTokens(text, PLAIN);
}

/**
 * `text` as o200k_base token ids, each decoded: one string per token, except that a token holding
 * part of a UTF-8 character is merged into the next, so the pieces always concatenate to `text`.
 */
export function o200kPieces(text: string): string[] {
  if (text === '') return [];
  const { decodeGenerator, encode } = loadTokenizer();
  return [...decodeGenerator(encode(text, PLAIN))];
}
