import { createHash } from 'node:crypto';
import type { EmbeddingsResponse } from '../core/chat.js';
import { countTokens } from './model.js';
import { openAIError } from './openai-wire.js';

/**
 * Emulated OpenAI embeddings: deterministic unit vectors derived from a SHA-256 of the input,
 * so equal texts embed equally and different texts differ.
 */

/** Vector length when the request has no `dimensions`. */
export const DEFAULT_DIMENSIONS = 16;

/**
 * A deterministic L2-normalised vector for `text`, with float32 precision so that the `float`
 * and `base64` encodings carry exactly the same numbers.
 * @example embedText('hello', 4).length // → 4
 */
export function embedText(text: string, dimensions = DEFAULT_DIMENSIONS): Float32Array {
  const raw = new Float64Array(dimensions);
  let block = Buffer.alloc(0);
  for (let i = 0; i < dimensions; i++) {
    const offset = (i % 8) * 4;
    if (offset === 0)
      block = createHash('sha256')
        .update(`${i / 8}:${text}`)
        .digest();
    raw[i] = block.readUInt32LE(offset) / 0xffffffff - 0.5;
  }
  const norm = Math.hypot(...raw) || 1;
  return Float32Array.from(raw, (x) => x / norm);
}

/**
 * Answers a `POST /v1/embeddings` body (already JSON-parsed). `model` is the name to echo back
 * (Azure classic takes it from the deployment). Inputs: a string, strings, a token array or
 * token arrays; prompt tokens are o200k_base counts (token arrays count their length).
 * Throws an OpenAI-shaped 400 on bad input.
 */
export function buildEmbeddings(body: unknown, model: string | undefined): EmbeddingsResponse {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw openAIError(400, "Invalid type for 'body': expected an object.", {
      code: 'invalid_type',
    });
  }
  const request = body as Record<string, unknown>;
  const name = model ?? request['model'];
  if (typeof name !== 'string' || name === '')
    throw openAIError(400, 'you must provide a model parameter');
  const texts = normaliseInput(request['input']);
  const dimensions = request['dimensions'] ?? DEFAULT_DIMENSIONS;
  if (
    typeof dimensions !== 'number' ||
    !Number.isInteger(dimensions) ||
    dimensions < 1 ||
    dimensions > 4096
  ) {
    throw openAIError(400, "Invalid 'dimensions': expected an integer between 1 and 4096.", {
      param: 'dimensions',
      code: 'invalid_value',
    });
  }
  const format = request['encoding_format'] ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    throw openAIError(
      400,
      `Invalid value: '${String(format)}'. Supported values are: 'float' and 'base64'.`,
      {
        param: 'encoding_format',
        code: 'invalid_value',
      },
    );
  }
  let tokens = 0;
  const data = texts.map((item, index) => {
    tokens += typeof item === 'string' ? countTokens(item) : item.length;
    const key = typeof item === 'string' ? item : `tokens:${item.join(',')}`;
    const vector = embedText(key, dimensions);
    const embedding =
      format === 'base64'
        ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
        : Array.from(vector);
    return { object: 'embedding' as const, index, embedding };
  });
  return {
    object: 'list',
    data,
    model: name,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

function normaliseInput(input: unknown): Array<string | number[]> {
  const invalid = (): never => {
    throw openAIError(
      400,
      "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
      {
        param: 'input',
      },
    );
  };
  if (input === undefined) {
    throw openAIError(400, "Missing required parameter: 'input'.", {
      param: 'input',
      code: 'missing_required_parameter',
    });
  }
  if (typeof input === 'string') return input === '' ? invalid() : [input];
  if (!Array.isArray(input) || input.length === 0) return invalid();
  if (input.every((x) => typeof x === 'number')) return [input as number[]];
  return input.map((item: unknown) => {
    if (typeof item === 'string' && item !== '') return item;
    if (Array.isArray(item) && item.length > 0 && item.every((x) => typeof x === 'number'))
      return item as number[];
    return invalid();
  });
}
