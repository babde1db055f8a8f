import { invalid } from './gemini-errors.js';
import type { Signer } from './gemini-signature.js';
import type { EmulatedInput } from './model.js';

/**
 * GenerateContentRequest → {@link EmulatedInput} for the sandbox Gemini/Vertex emulator,
 * validating body fields, roles, schemas and thought signatures as Gemini does.
 */

const SKIP = 'skip_thought_signature_validator';
const SCHEMA_KEYS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'items',
  'minItems',
  'maxItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'anyOf',
  'propertyOrdering',
  'default',
  'example',
]);
const BODY_KEYS = new Set([
  'contents',
  'systemInstruction',
  'tools',
  'toolConfig',
  'generationConfig',
  'safetySettings',
  'cachedContent',
  'labels',
]);

/** One part of a Gemini `Content`: text, a thought, or another kind kept as sent. */
export type Part = Record<string, unknown> & {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
};

/** Reads a GenerateContentRequest into the protocol-neutral input, validating as Gemini does. */
export function toInput(
  body: Record<string, unknown>,
  model: string,
  sign: Signer,
): { emulated: EmulatedInput; includeThoughts: boolean } {
  for (const key of Object.keys(body))
    if (!BODY_KEYS.has(key))
      throw invalid(`Invalid JSON payload received. Unknown name "${key}": Cannot find field.`);
  const messages: EmulatedInput['messages'] = [];
  let images = 0;
  const system = body['systemInstruction'] as { parts?: Part[] } | undefined;
  const systemText = (system?.parts ?? []).map((part) => part.text ?? '').join('');
  if (systemText) messages.push({ role: 'system', text: systemText });
  const contents = body['contents'];
  if (!Array.isArray(contents) || contents.length === 0)
    throw invalid('* GenerateContentRequest.contents: contents is not specified');
  const enforce = Number(/gemini-(\d+)/.exec(model)?.[1] ?? 0) >= 3;
  contents.forEach((content: { role?: unknown; parts?: Part[] }, i) => {
    if (content.role !== 'user' && content.role !== 'model')
      throw invalid('Please use a valid role: user, model.');
    const parts = content.parts ?? [];
    if (parts.length === 0)
      throw invalid(
        `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`,
      );
    images += parts.filter(
      (p) => p['inlineData'] !== undefined || p['fileData'] !== undefined,
    ).length;
    if (content.role === 'model') {
      const text = parts
        .filter((p) => typeof p.text === 'string' && !p.thought)
        .map((p) => p.text)
        .join('');
      const calls = parts.filter((p) => p['functionCall'] !== undefined);
      const toolCalls = calls.map((part, k) => {
        const call = part['functionCall'] as { name: string; args?: unknown; id?: string };
        const signature = part.thoughtSignature;
        if (k === 0 && enforce && signature === undefined) {
          throw invalid(
            `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${call.name}\` , position ${i + 1}.`,
          );
        }
        if (
          signature !== undefined &&
          signature !== SKIP &&
          signature !== sign(model, call.name, call.args ?? {})
        ) {
          throw invalid('Corrupted thought signature.');
        }
        return {
          id: call.id ?? call.name,
          name: call.name,
          arguments: JSON.stringify(call.args ?? {}),
        };
      });
      messages.push(
        toolCalls.length > 0 ? { role: 'assistant', text, toolCalls } : { role: 'assistant', text },
      );
      return;
    }
    // Keep part order: function responses and the user's own text may share one turn.
    for (const part of parts) {
      const result = part['functionResponse'] as
        | { name: string; response?: unknown; id?: string }
        | undefined;
      const last = messages.at(-1);
      if (result)
        messages.push({
          role: 'tool',
          text: JSON.stringify(result.response ?? {}),
          toolCallId: result.id ?? result.name,
        });
      else if (last?.role === 'user') last.text += typeof part.text === 'string' ? part.text : '';
      else messages.push({ role: 'user', text: typeof part.text === 'string' ? part.text : '' });
    }
  });
  const tools = (
    (body['tools'] ?? []) as Array<{ functionDeclarations?: Array<Record<string, unknown>> }>
  ).flatMap((tool, i) =>
    (tool.functionDeclarations ?? []).map((declaration, j) => {
      const parameters = declaration['parameters'] as Record<string, unknown> | undefined;
      if (parameters) checkSchema(parameters, `tools[${i}].function_declarations[${j}].parameters`);
      return {
        name: String(declaration['name']),
        ...(parameters ? { parameters: lowerTypes(parameters) } : {}),
      };
    }),
  );
  const generation = (body['generationConfig'] ?? {}) as Record<string, unknown>;
  const emulated: EmulatedInput = { messages, tools, images };
  const calling = (
    body['toolConfig'] as
      | { functionCallingConfig?: { mode?: string; allowedFunctionNames?: string[] } }
      | undefined
  )?.functionCallingConfig;
  if (calling?.mode === 'NONE') emulated.toolChoice = 'none';
  else if (calling?.mode === 'ANY')
    emulated.toolChoice =
      calling.allowedFunctionNames?.length === 1
        ? { name: calling.allowedFunctionNames[0]! }
        : 'required';
  if (typeof generation['maxOutputTokens'] === 'number')
    emulated.maxTokens = generation['maxOutputTokens'];
  if (Array.isArray(generation['stopSequences']))
    emulated.stop = generation['stopSequences'] as string[];
  const schema = (generation['responseSchema'] ?? generation['responseJsonSchema']) as
    | Record<string, unknown>
    | undefined;
  if (generation['responseSchema']) checkSchema(schema!, 'generation_config.response_schema');
  if (schema) emulated.jsonSchema = lowerTypes(schema);
  const thinking = generation['thinkingConfig'] as { includeThoughts?: boolean } | undefined;
  return { emulated, includeThoughts: thinking?.includeThoughts === true };
}

/** Gemini's `Schema` is an OpenAPI subset: any other keyword is an unknown proto field. */
function checkSchema(schema: Record<string, unknown>, at: string): void {
  for (const [key, value] of Object.entries(schema)) {
    if (!SCHEMA_KEYS.has(key))
      throw invalid(
        `Invalid JSON payload received. Unknown name "${key}" at '${at}': Cannot find field.`,
      );
    if (key === 'properties')
      for (const [name, sub] of Object.entries(value as object))
        checkSchema(sub as Record<string, unknown>, `${at}.properties[${name}].value`);
    if (key === 'items') checkSchema(value as Record<string, unknown>, `${at}.items`);
    if (key === 'anyOf')
      (value as Array<Record<string, unknown>>).forEach((sub, k) => {
        checkSchema(sub, `${at}.any_of[${k}]`);
      });
  }
}

/** Gemini accepts `STRING`/`OBJECT`; the emulated model reads JSON Schema's lowercase names. */
function lowerTypes(schema: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema), (key, value: unknown) =>
    key === 'type' && typeof value === 'string' ? value.toLowerCase() : value,
  );
}
