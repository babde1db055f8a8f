import { createHash } from 'node:crypto';
import { o200kPieces, o200kTokens } from '../core/tokens.js';
import { valueForSchema } from './schema-value.js';
import { merged } from '../core/objects.js';

/** A protocol-neutral conversation, built by each emulated cloud from its own wire format. */
export interface EmulatedInput {
  messages: Array<{
    role: 'system' | 'user' | 'assistant' | 'tool';
    text: string;
    toolCalls?: Array<{ id: string; name: string; arguments: string }>;
    toolCallId?: string;
  }>;
  tools: Array<{ name: string; description?: string; parameters?: Record<string, unknown> }>;
  toolChoice?: 'auto' | 'none' | 'required' | { name: string };
  /** Structured output requested: the answer is a JSON value conforming to this schema. */
  jsonSchema?: Record<string, unknown>;
  maxTokens?: number;
  stop?: string[];
  /** Count of images in the input (each adds {@link IMAGE_TOKENS} input tokens). */
  images?: number;
  /** `false` = at most one tool call per turn (OpenAI `parallel_tool_calls`). Default true. */
  parallelToolCalls?: boolean;
}

/** What the emulated model answers. */
export interface EmulatedOutput {
  /** May be '' when the answer is only tool calls. */
  text: string;
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  finishReason: 'stop' | 'length' | 'tool_calls';
  usage: {
    inputTokens: number;
    outputTokens: number;
    cachedInputTokens: number;
    reasoningTokens: number;
  };
  /** Present when the last user message contains "think". */
  reasoning?: string;
}

/** Input tokens charged per image (OpenAI's low-detail image cost). */
export const IMAGE_TOKENS = 85;

/** OpenAI prompt caching: prefixes of at least 1024 tokens, in 128-token increments. */
const CACHE_MIN_TOKENS = 1024;
const CACHE_INCREMENT = 128;

/** Number of o200k_base tokens in `text` (special-token strings count as plain text). */
export function countTokens(text: string): number {
  return o200kTokens(text);
}

/**
 * Splits `text` into stream pieces, one per o200k_base token (each token id decoded). A token
 * holding only part of a UTF-8 character is merged into the next piece, so the pieces always
 * concatenate to `text`.
 * @example tokenize('Hello world') // → ['Hello', ' world']
 */
export function tokenize(text: string): string[] {
  return o200kPieces(text);
}

/**
 * The deterministic emulated LLM behind every sandbox cloud. The same input always gives the
 * same output. Rules, first match wins ("last user text" = text of the last `user` message):
 *
 * 1. The conversation ends with tool results → `Tool <name> returned: <result>`, one line per
 *    trailing tool message (the name is looked up from the assistant call with that id).
 * 2. Tools are offered, `toolChoice` is not `none`, and `toolChoice` is `required` or names a
 *    tool, or the last user text mentions a tool by name, says "use a tool", or says "call"
 *    → tool calls, `finishReason: 'tool_calls'`, text ''. A named `toolChoice` calls that tool;
 *    otherwise every tool mentioned by name is called (the first one only when
 *    `parallelToolCalls` is false), or the first tool if none is mentioned. Arguments come
 *    from the tool's JSON schema ({@link valueForSchema}): the n-th generated string takes the
 *    n-th double-quoted ("…", “…”) text of the last user message, else `"example"`; numbers
 *    are 1, booleans true, enums their first value, objects recursive. Ids are `call_` + 24
 *    hex chars of sha256(name, arguments, position, last user text), stable across runs.
 * 3. `jsonSchema` is set → `JSON.stringify` of a value conforming to it (same generator).
 *    This wins over rule 4 so that a structured-output answer always parses.
 * 4. The last user text starts (or has a sentence starting) with `say X`, `reply with X` or
 *    `repeat after me: X` → exactly X (one pair of surrounding quotes removed).
 * 5. Otherwise → `You said: <last user text>`.
 *
 * If the last user text contains "think", `reasoning` is `Thinking about "<its first 200
 * chars>" (<modelName>)` and counts as reasoning tokens. Then stop sequences cut the text
 * before the first match (finish `stop`), and `maxTokens` caps output tokens spent in order:
 * reasoning, text, each tool call's name + arguments; the piece that crosses the cap is cut
 * at a token boundary, later tool calls are dropped, and the finish reason is `length`.
 *
 * Usage (o200k_base, no per-message overhead):
 * - `inputTokens` = Σ countTokens(message text) + Σ countTokens(name) + countTokens(arguments)
 *   of assistant tool calls + Σ countTokens(JSON.stringify(tool)) + 85 × images.
 * - `cachedInputTokens`: tool definitions and every message before the last one form the
 *   cacheable prefix; when it has ≥ 1024 tokens, that many rounded down to a multiple of 128,
 *   else 0 (OpenAI prompt-caching granularity).
 * - `outputTokens` = reasoning + text + tool-call name and argument tokens (so it includes
 *   `reasoningTokens`, as OpenAI's `completion_tokens` does).
 */
export function emulate(
  input: EmulatedInput,
  options: { modelName?: string } = {},
): EmulatedOutput {
  const lastUser = [...input.messages].reverse().find((m) => m.role === 'user')?.text ?? '';
  let text = '';
  let toolCalls: EmulatedOutput['toolCalls'] = [];
  const toolResults = trailingToolResults(input);
  if (toolResults !== undefined) text = toolResults;
  else {
    const called = chooseTools(input, lastUser);
    if (called.length > 0) toolCalls = called.map((tool, i) => makeToolCall(tool, i, lastUser));
    else if (input.jsonSchema !== undefined)
      text = JSON.stringify(valueForSchema(input.jsonSchema, quotedStrings(lastUser)));
    else text = sayTarget(lastUser) ?? `You said: ${lastUser}`;
  }
  let reasoning = /think/i.test(lastUser)
    ? `Thinking about "${lastUser.slice(0, 200)}" (${options.modelName ?? 'sandbox'})`
    : undefined;

  let finishReason: EmulatedOutput['finishReason'] = toolCalls.length > 0 ? 'tool_calls' : 'stop';
  text = applyStop(text, input.stop);

  if (input.maxTokens !== undefined) {
    const capped = applyMaxTokens({ reasoning, text, toolCalls }, input.maxTokens);
    ({ reasoning, text, toolCalls } = capped);
    if (capped.truncated) finishReason = 'length';
  }

  const reasoningTokens = reasoning === undefined ? 0 : countTokens(reasoning);
  const outputTokens =
    reasoningTokens +
    countTokens(text) +
    toolCalls.reduce((n, c) => n + countTokens(c.name) + countTokens(c.arguments), 0);
  const { inputTokens, cachedInputTokens } = countInput(input);
  const output: EmulatedOutput = {
    text,
    toolCalls,
    finishReason,
    usage: { inputTokens, outputTokens, cachedInputTokens, reasoningTokens },
  };
  if (reasoning !== undefined) output.reasoning = reasoning;
  return output;
}

function trailingToolResults(input: EmulatedInput): string | undefined {
  const results: string[] = [];
  for (let i = input.messages.length - 1; i >= 0; i--) {
    const message = input.messages[i];
    if (message?.role !== 'tool') break;
    const call = input.messages
      .flatMap((m) => m.toolCalls ?? [])
      .find((c) => c.id === message.toolCallId);
    results.unshift(
      `Tool ${call?.name ?? message.toolCallId ?? 'unknown'} returned: ${message.text}`,
    );
  }
  return results.length > 0 ? results.join('\n') : undefined;
}

function chooseTools(input: EmulatedInput, lastUser: string): EmulatedInput['tools'] {
  const { tools, toolChoice } = input;
  if (tools.length === 0 || toolChoice === 'none') return [];
  if (typeof toolChoice === 'object')
    return tools.filter((t) => t.name === toolChoice.name).slice(0, 1);
  const mentioned = tools.filter((t) =>
    new RegExp(`(?<![\\w-])${escapeRegExp(t.name)}(?![\\w-])`, 'i').test(lastUser),
  );
  const asked = /\buse (?:a|the|any|your) tools?\b|\bcall\b/i.test(lastUser);
  if (mentioned.length === 0 && !asked && toolChoice !== 'required') return [];
  const chosen = mentioned.length > 0 ? mentioned : tools.slice(0, 1);
  return input.parallelToolCalls === false ? chosen.slice(0, 1) : chosen;
}

function makeToolCall(tool: EmulatedInput['tools'][number], index: number, lastUser: string) {
  const schema = tool.parameters ?? { type: 'object', properties: {} };
  const args = JSON.stringify(valueForSchema(schema, quotedStrings(lastUser)));
  const hash = createHash('sha256')
    .update(`${tool.name}\n${args}\n${index}\n${lastUser}`)
    .digest('hex');
  return { id: `call_${hash.slice(0, 24)}`, name: tool.name, arguments: args };
}

/** A string source yielding the double-quoted texts of `text` in order, then "example". */
function quotedStrings(text: string): () => string {
  const quoted = [...text.matchAll(/"([^"]*)"|“([^”]*)”/g)].map((m) => m[1] ?? m[2] ?? '');
  let next = 0;
  return () => quoted[next++] ?? 'example';
}

function sayTarget(text: string): string | undefined {
  const match =
    /(?:^|[.!?]\s+|\n)\s*(?:please\s+)?(?:say|reply with|repeat after me:?)\s+([\s\S]+)$/i.exec(
      text,
    );
  if (match?.[1] === undefined) return undefined;
  const target = match[1].trim();
  const quoted = /^(["'“`])([\s\S]*)(["'”`])$/.exec(target);
  const pairs: Record<string, string> = { '"': '"', "'": "'", '“': '”', '`': '`' };
  return quoted && pairs[quoted[1] ?? ''] === quoted[3] ? (quoted[2] ?? '') : target;
}

function applyStop(text: string, stop: string[] | undefined): string {
  let end = text.length;
  for (const sequence of stop ?? []) {
    if (sequence === '') continue;
    const at = text.indexOf(sequence);
    if (at !== -1 && at < end) end = at;
  }
  return text.slice(0, end);
}

interface Answer {
  reasoning: string | undefined;
  text: string;
  toolCalls: EmulatedOutput['toolCalls'];
}

/** Spends `max` output tokens on reasoning, then text, then tool calls (see {@link emulate}). */
function applyMaxTokens(answer: Answer, max: number): Answer & { truncated: boolean } {
  let budget = Math.max(0, max);
  let truncated = false;
  const cut = (s: string): string => {
    const kept = truncateTokens(s, budget);
    budget -= kept.tokens;
    if (kept.text !== s) truncated = true;
    return kept.text;
  };
  const reasoning = answer.reasoning === undefined ? undefined : cut(answer.reasoning);
  const text = cut(answer.text);
  const toolCalls: Answer['toolCalls'] = [];
  for (const call of answer.toolCalls) {
    if (truncated) break;
    const name = cut(call.name);
    if (truncated) break;
    toolCalls.push(merged(call, { name, arguments: cut(call.arguments) }));
  }
  return { reasoning, text, toolCalls, truncated };
}

/** The longest prefix of `text` made of whole stream pieces within `budget` tokens. */
function truncateTokens(text: string, budget: number): { text: string; tokens: number } {
  const tokens = countTokens(text);
  if (tokens <= budget) return { text, tokens };
  let kept = '';
  for (const piece of tokenize(text)) {
    const candidate = kept + piece;
    if (countTokens(candidate) > budget) break;
    kept = candidate;
  }
  return { text: kept, tokens: countTokens(kept) };
}

function countInput(input: EmulatedInput): { inputTokens: number; cachedInputTokens: number } {
  const perMessage = input.messages.map(
    (m) =>
      countTokens(m.text) +
      (m.toolCalls ?? []).reduce((n, c) => n + countTokens(c.name) + countTokens(c.arguments), 0),
  );
  const toolTokens = input.tools.reduce((n, t) => n + countTokens(JSON.stringify(t)), 0);
  const imageTokens = (input.images ?? 0) * IMAGE_TOKENS;
  const messageTokens = perMessage.reduce((a, b) => a + b, 0);
  const inputTokens = messageTokens + toolTokens + imageTokens;
  // Images are usually in the last message, so they are not counted as cacheable prefix.
  const prefix = messageTokens - (perMessage.at(-1) ?? 0) + toolTokens;
  const cachedInputTokens = prefix >= CACHE_MIN_TOKENS ? prefix - (prefix % CACHE_INCREMENT) : 0;
  return { inputTokens, cachedInputTokens };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
