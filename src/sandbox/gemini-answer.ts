import { randomId } from '../core/ids.js';
import { merged } from '../core/objects.js';
import type { Part } from './gemini-request.js';
import type { Signer } from './gemini-signature.js';
import { type EmulatedOutput, tokenize } from './model.js';

/** {@link EmulatedOutput} → a generateContent answer and its streamGenerateContent chunks. */

/** The whole answer and its stream chunks. */
export function build(
  output: EmulatedOutput,
  model: string,
  includeThoughts: boolean,
  sign: Signer,
): { whole: object; chunks: object[] } {
  const responseId = randomId('', 22);
  const usage = output.usage;
  const usageMetadata = {
    promptTokenCount: usage.inputTokens,
    candidatesTokenCount: usage.outputTokens - usage.reasoningTokens,
    totalTokenCount: usage.inputTokens + usage.outputTokens,
    ...(usage.cachedInputTokens > 0 ? { cachedContentTokenCount: usage.cachedInputTokens } : {}),
    ...(usage.reasoningTokens > 0 ? { thoughtsTokenCount: usage.reasoningTokens } : {}),
  };
  const finishReason = output.finishReason === 'length' ? 'MAX_TOKENS' : 'STOP';
  const thought: Part[] =
    includeThoughts && output.reasoning ? [{ text: output.reasoning, thought: true }] : [];
  const textSignature = output.reasoning ? sign(model, '', output.reasoning) : undefined;
  const calls: Part[] = output.toolCalls.map((call, k) => {
    const args = JSON.parse(call.arguments) as Record<string, unknown>;
    const part: Part = { functionCall: { name: call.name, args } };
    // Gemini 3 signs only the first call of a parallel set.
    return k === 0 ? merged(part, { thoughtSignature: sign(model, call.name, args) }) : part;
  });
  const text: Part[] =
    output.text === ''
      ? []
      : [
          {
            text: output.text,
            ...(textSignature && calls.length === 0 ? { thoughtSignature: textSignature } : {}),
          },
        ];
  const wrap = (parts: Part[], last: boolean): object => ({
    candidates: [
      { content: { role: 'model', parts }, index: 0, ...(last ? { finishReason } : {}) },
    ],
    ...(last ? { usageMetadata } : { usageMetadata: { promptTokenCount: usage.inputTokens } }),
    modelVersion: model,
    responseId,
  });
  const pieces: Part[][] = [
    ...thought.map((part) => [part]),
    ...tokenize(output.text).map((piece) => [{ text: piece }]),
    ...calls.map((part) => [part]),
  ];
  const closing: Part[] =
    textSignature && calls.length === 0 && output.text !== ''
      ? [{ text: '', thoughtSignature: textSignature }]
      : [];
  const chunks = pieces.map((parts) => wrap(parts, false));
  if (closing.length > 0 || chunks.length === 0) chunks.push(wrap(closing, true));
  else chunks[chunks.length - 1] = wrap(pieces.at(-1)!, true);
  return { whole: wrap([...thought, ...text, ...calls], true), chunks };
}
