import type { IdSource } from '../core/ids.js';
import { normalizeMcpItem } from './agent/mcp-input.js';
import { invalidParam, unsupportedParam } from './errors.js';
import type { Item } from './types.js';
import { isRecord } from '../core/objects.js';

/**
 * Input items → the canonical stored form: every item gets an id (the client's, or a fresh
 * one with the API's prefix), messages get content part lists and a status. Item types this
 * runtime cannot turn into model context are rejected by name rather than dropped.
 */

const MESSAGE_ROLES = new Set(['user', 'assistant', 'system', 'developer']);
const PART_TYPES = new Set(['input_text', 'input_image', 'input_file', 'output_text', 'refusal']);

/** Id prefix per item type, as the API mints them. */
export const ID_PREFIX: Readonly<Record<string, string>> = {
  message: 'msg_',
  function_call: 'fc_',
  function_call_output: 'fco_',
  reasoning: 'rs_',
  compaction: 'cmp_',
  mcp_approval_response: 'mcpa_',
};

/** An input item after normalization, or a reference to a stored item still to resolve. */
export type NormalizedInput =
  | { kind: 'item'; item: Item }
  | { kind: 'reference'; id: string; index: number };

/** Result of {@link normalizeInput}. */
export interface NormalizedInputs {
  entries: NormalizedInput[];
  /** A trailing `{type: "compaction_trigger"}` asked for compaction now. */
  compactionTrigger: boolean;
}

/**
 * Normalizes `input` items (a string input must already be one user message).
 * @param param Field name for error messages (`input`, `items`).
 */
export function normalizeInput(raw: unknown[], ids: IdSource, param = 'input'): NormalizedInputs {
  const entries: NormalizedInput[] = [];
  let compactionTrigger = false;
  raw.forEach((value, index) => {
    const at = `${param}[${index}]`;
    if (!isRecord(value))
      throw invalidParam(`Invalid '${at}': expected an object.`, at, 'invalid_type');
    const type = typeof value['type'] === 'string' ? value['type'] : undefined;
    if (type === 'compaction_trigger') {
      if (index !== raw.length - 1)
        throw invalidParam(
          `Invalid '${at}': a compaction_trigger item must be the final input item.`,
          at,
        );
      compactionTrigger = true;
      return;
    }
    if (
      type === 'item_reference' ||
      (type === undefined && value['role'] === undefined && typeof value['id'] === 'string')
    ) {
      if (typeof value['id'] !== 'string' || value['id'] === '')
        throw invalidParam(
          `Missing required parameter: '${at}.id'.`,
          `${at}.id`,
          'missing_required_parameter',
        );
      entries.push({ kind: 'reference', id: value['id'], index });
      return;
    }
    entries.push({ kind: 'item', item: normalizeItem(value, type ?? 'message', at, ids) });
  });
  return { entries, compactionTrigger };
}

function normalizeItem(
  value: Record<string, unknown>,
  type: string,
  at: string,
  ids: IdSource,
): Item {
  const id =
    typeof value['id'] === 'string' && value['id'] !== ''
      ? value['id']
      : ids(ID_PREFIX[type] ?? 'item_');
  switch (type) {
    case 'message':
      return normalizeMessage(value, id, at);
    case 'function_call': {
      requireString(value, 'call_id', at);
      requireString(value, 'name', at);
      const args = value['arguments'];
      if (typeof args !== 'string')
        throw invalidParam(
          `Invalid '${at}.arguments': expected a string.`,
          `${at}.arguments`,
          'invalid_type',
        );
      return copyWith(value, { type, id, status: 'completed' });
    }
    case 'function_call_output': {
      requireString(value, 'call_id', at);
      const output = value['output'];
      if (typeof output !== 'string' && !Array.isArray(output))
        throw invalidParam(
          `Invalid '${at}.output': expected a string or an array of content parts.`,
          `${at}.output`,
          'invalid_type',
        );
      return copyWith(value, { type, id, status: 'completed' });
    }
    case 'reasoning': {
      const summary = Array.isArray(value['summary']) ? value['summary'] : [];
      return copyWith(value, { type, id, summary });
    }
    case 'compaction': {
      if (typeof value['encrypted_content'] !== 'string')
        throw invalidParam(
          `Missing required parameter: '${at}.encrypted_content'.`,
          `${at}.encrypted_content`,
          'missing_required_parameter',
        );
      return copyWith(value, { type, id });
    }
    case 'mcp_list_tools':
    case 'mcp_call':
    case 'mcp_approval_request':
    case 'mcp_approval_response':
      // Sent back by clients that keep their own state; the agent runtime takes them (agent/mcp-input.ts).
      return normalizeMcpItem(value, type, id, at);
    default:
      throw unsupportedParam(
        `Input items of type '${type}' are not supported by Switchyard (supported: message, function_call, function_call_output, reasoning, compaction, item_reference, mcp_list_tools, mcp_call, mcp_approval_request, mcp_approval_response).`,
        `${at}.type`,
      );
  }
}

function normalizeMessage(value: Record<string, unknown>, id: string, at: string): Item {
  const role = value['role'];
  if (typeof role !== 'string' || !MESSAGE_ROLES.has(role)) {
    throw invalidParam(
      `Invalid value for '${at}.role': expected one of 'user', 'assistant', 'system', or 'developer'.`,
      `${at}.role`,
    );
  }
  const content = value['content'];
  let parts: Array<Record<string, unknown>>;
  if (typeof content === 'string') {
    parts = [
      role === 'assistant'
        ? { type: 'output_text', text: content, annotations: [] }
        : { type: 'input_text', text: content },
    ];
  } else if (Array.isArray(content)) {
    parts = content.map((part, index) => {
      const where = `${at}.content[${index}]`;
      if (!isRecord(part) || typeof part['type'] !== 'string')
        throw invalidParam(
          `Invalid '${where}': expected a content part object with a 'type'.`,
          where,
          'invalid_type',
        );
      if (!PART_TYPES.has(part['type']))
        throw unsupportedParam(
          `Content parts of type '${part['type']}' are not supported.`,
          `${where}.type`,
        );
      return part;
    });
  } else {
    throw invalidParam(
      `Invalid '${at}.content': expected a string or an array of content parts.`,
      `${at}.content`,
      'invalid_type',
    );
  }
  return copyWith(value, {
    type: 'message',
    id,
    role,
    content: parts,
    status: typeof value['status'] === 'string' ? value['status'] : 'completed',
  });
}

/**
 * `{...value, ...fields}` without the spread: V8 takes a slow path when a spread is followed by
 * keys the source already has, and a 100-item input spent over a millisecond there.
 */
function copyWith(value: Record<string, unknown>, fields: Record<string, unknown>): Item {
  return Object.assign({}, value, fields) as Item;
}

function requireString(value: Record<string, unknown>, field: string, at: string): void {
  if (typeof value[field] !== 'string' || value[field] === '') {
    throw invalidParam(
      `Missing required parameter: '${at}.${field}'.`,
      `${at}.${field}`,
      'missing_required_parameter',
    );
  }
}

/** True for a `message` item with role `user`. */
export function isUserMessage(item: Item): boolean {
  return item.type === 'message' && item['role'] === 'user';
}
