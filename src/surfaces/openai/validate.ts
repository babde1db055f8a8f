import type { ChatRequest, EmbeddingsRequest } from '../../core/chat.js';
import { GatewayError, invalidRequest } from '../../errors/index.js';
import { isRecord } from '../../core/objects.js';

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

/** Parses a JSON body, or throws 400 invalid_json. */
export function parseJsonBody(bytes: Buffer): unknown {
  if (bytes.length === 0)
    throw new GatewayError('Request body is empty; expected JSON', {
      code: 'invalid_json',
      status: 400,
      retryable: false,
      failover: false,
    });
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new GatewayError(`Request body is not valid JSON: ${(error as Error).message}`, {
      code: 'invalid_json',
      status: 400,
      retryable: false,
      failover: false,
    });
  }
}

/**
 * Checks the fields Switchyard itself relies on, with OpenAI's messages and `param` paths.
 * Everything else is left for the upstream to judge (unknown fields pass through).
 */
export function validateChatRequest(value: unknown): ChatRequest {
  if (!isRecord(value)) throw invalidRequest('Request body must be a JSON object', null);
  if (typeof value['model'] !== 'string' || value['model'] === '')
    throw invalidRequest("'model' is required and must be a string", 'model');
  const messages = value['messages'];
  if (!Array.isArray(messages) || messages.length === 0)
    throw invalidRequest("'messages' must be a non-empty array", 'messages');
  messages.forEach((message, index) => {
    if (!isRecord(message))
      throw invalidRequest(`messages[${index}] must be an object`, `messages[${index}]`);
    if (typeof message['role'] !== 'string' || !ROLES.has(message['role'])) {
      throw invalidRequest(
        `messages[${index}].role must be one of system, developer, user, assistant, tool`,
        `messages[${index}].role`,
      );
    }
    const content = message['content'];
    if (
      content !== undefined &&
      content !== null &&
      typeof content !== 'string' &&
      !Array.isArray(content)
    ) {
      throw invalidRequest(
        `messages[${index}].content must be a string or an array of content parts`,
        `messages[${index}].content`,
      );
    }
    if (message['role'] === 'tool' && typeof message['tool_call_id'] !== 'string') {
      throw invalidRequest(
        `messages[${index}].tool_call_id is required for tool messages`,
        `messages[${index}].tool_call_id`,
      );
    }
  });
  optional(value, 'stream', 'boolean');
  optional(value, 'temperature', 'number');
  optional(value, 'top_p', 'number');
  optional(value, 'n', 'number');
  optional(value, 'max_tokens', 'number');
  optional(value, 'max_completion_tokens', 'number');
  optional(value, 'seed', 'number');
  optional(value, 'logprobs', 'boolean');
  if (
    value['n'] !== undefined &&
    value['n'] !== null &&
    (!Number.isInteger(value['n']) || (value['n'] as number) < 1)
  )
    throw invalidRequest("'n' must be a positive integer", 'n');
  if (value['tools'] !== undefined && value['tools'] !== null) {
    if (!Array.isArray(value['tools'])) throw invalidRequest("'tools' must be an array", 'tools');
    value['tools'].forEach((tool, index) => {
      if (
        !isRecord(tool) ||
        !isRecord(tool['function']) ||
        typeof tool['function']['name'] !== 'string'
      ) {
        throw invalidRequest(
          `tools[${index}] must be {type: "function", function: {name, parameters}}`,
          `tools[${index}]`,
        );
      }
    });
  }
  if (
    value['stream_options'] !== undefined &&
    value['stream_options'] !== null &&
    !isRecord(value['stream_options'])
  ) {
    throw invalidRequest("'stream_options' must be an object", 'stream_options');
  }
  return value as unknown as ChatRequest;
}

/** Validates an embeddings body. */
export function validateEmbeddingsRequest(value: unknown): EmbeddingsRequest {
  if (!isRecord(value)) throw invalidRequest('Request body must be a JSON object', null);
  if (typeof value['model'] !== 'string' || value['model'] === '')
    throw invalidRequest("'model' is required and must be a string", 'model');
  const input = value['input'];
  const ok = typeof input === 'string' || (Array.isArray(input) && input.length > 0);
  if (!ok) throw invalidRequest("'input' must be a string or a non-empty array", 'input');
  return value as unknown as EmbeddingsRequest;
}

function optional(value: Record<string, unknown>, field: string, type: 'boolean' | 'number'): void {
  const item = value[field];
  if (item !== undefined && item !== null && typeof item !== type)
    throw invalidRequest(`'${field}' must be a ${type}`, field);
}
