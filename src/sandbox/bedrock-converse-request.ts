import type { ConverseContentBlock, ConverseRequest } from '../providers/bedrock/types.js';
import { reasoningSignature } from './bedrock-converse-answer.js';
import { validation } from './bedrock-errors.js';
import type { EmulatedInput } from './model.js';
import { isRecord } from '../core/objects.js';

/**
 * Converse request → {@link EmulatedInput} for the sandbox Bedrock emulator, validating the way
 * Bedrock does and answering with its ValidationException messages.
 */

export function parseJson(text: string): ConverseRequest {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value))
      return value as ConverseRequest;
  } catch {
    // fall through
  }
  throw validation('Malformed input request, please reformat your input and try again.');
}

/** Validates a Converse request the way Bedrock does (the rules that matter) and builds the model input. */
export function toEmulatedInput(request: ConverseRequest): EmulatedInput {
  const { messages, system, toolConfig, inferenceConfig, outputConfig } = request;
  if (!Array.isArray(messages) || messages.length === 0)
    throw validation(
      'A conversation must start with a user message. Try again with a conversation that starts with a user message.',
    );
  const input: EmulatedInput = { messages: [], tools: [], images: 0 };
  const systemText = (system ?? [])
    .flatMap((b) => (typeof b.text === 'string' ? [b.text] : []))
    .join('\n');
  if (systemText) input.messages.push({ role: 'system', text: systemText });
  let usesTools = false;
  messages.forEach((message, i) => {
    if (message.role !== (i % 2 === 0 ? 'user' : 'assistant')) {
      throw validation(
        'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.',
      );
    }
    if (!Array.isArray(message.content) || message.content.length === 0) {
      throw validation(
        `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`,
      );
    }
    const texts: string[] = [];
    const toolCalls: NonNullable<EmulatedInput['messages'][number]['toolCalls']> = [];
    for (const block of message.content) {
      checkBlock(block, message.role, i);
      if (typeof block.text === 'string') texts.push(block.text);
      if (block.image) input.images! += 1;
      if (block.toolUse)
        toolCalls.push({
          id: block.toolUse.toolUseId,
          name: block.toolUse.name,
          arguments: JSON.stringify(block.toolUse.input ?? {}),
        });
      if (block.toolResult) {
        const text = block.toolResult.content
          .map((c) =>
            typeof c.text === 'string'
              ? c.text
              : c.json !== undefined
                ? JSON.stringify(c.json)
                : '',
          )
          .join('\n');
        input.messages.push({ role: 'tool', text, toolCallId: block.toolResult.toolUseId });
      }
      usesTools ||= block.toolUse !== undefined || block.toolResult !== undefined;
    }
    if (message.role === 'assistant')
      input.messages.push({
        role: 'assistant',
        text: texts.join('\n'),
        ...(toolCalls.length > 0 ? { toolCalls } : {}),
      });
    else if (texts.length > 0) input.messages.push({ role: 'user', text: texts.join('\n') });
  });
  if (messages.at(-1)?.role !== 'user')
    throw validation(
      'A conversation must end with a user message. Try again with a conversation that ends with a user message.',
    );
  if (usesTools && !toolConfig)
    throw validation(
      'The toolConfig field must be defined when using toolUse and toolResult content blocks.',
    );
  for (const tool of toolConfig?.tools ?? []) {
    if (!tool.toolSpec) continue;
    const { name, description, inputSchema } = tool.toolSpec;
    input.tools.push({
      name,
      ...(description ? { description } : {}),
      ...(isRecord(inputSchema?.json) ? { parameters: inputSchema.json } : {}),
    });
  }
  const choice = toolConfig?.toolChoice;
  if (choice && 'any' in choice) input.toolChoice = 'required';
  else if (choice && 'tool' in choice) input.toolChoice = { name: choice.tool.name };
  if (inferenceConfig?.maxTokens !== undefined) input.maxTokens = inferenceConfig.maxTokens;
  if (inferenceConfig?.stopSequences) input.stop = inferenceConfig.stopSequences;
  const schema = outputConfig?.textFormat?.structure?.jsonSchema?.schema;
  if (typeof schema === 'string') {
    try {
      input.jsonSchema = JSON.parse(schema) as Record<string, unknown>;
    } catch {
      throw validation('The provided JSON schema in outputConfig is not valid JSON.');
    }
  }
  return input;
}

function checkBlock(block: ConverseContentBlock, role: string, index: number): void {
  const members = Object.keys(block).filter((key) => block[key] !== undefined);
  if (members.length !== 1)
    throw validation(`ContentBlock at messages.${index} must set exactly one member.`);
  if (typeof block.text === 'string' && block.text.trim() === '')
    throw validation(
      `The text field in the ContentBlock object at messages.${index} is blank. Add text to the text field, and try again.`,
    );
  if (block.toolResult && role !== 'user')
    throw validation('toolResult blocks are allowed in user messages only.');
  if ((block.toolUse || block.reasoningContent) && role !== 'assistant')
    throw validation(
      `${block.toolUse ? 'toolUse' : 'reasoningContent'} blocks are allowed in assistant messages only.`,
    );
  const reasoning = block.reasoningContent?.reasoningText;
  if (reasoning && reasoning.signature !== reasoningSignature(reasoning.text)) {
    throw validation(`messages.${index}: the signature of the reasoning block is invalid.`);
  }
}
