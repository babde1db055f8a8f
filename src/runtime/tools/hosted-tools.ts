import { invalidParam } from '../errors.js';
import { merged, isRecord } from '../../core/objects.js';

/**
 * Tool types of the Responses API that OpenAI's servers run (or that need item types Switchyard
 * has no runtime for). Switchyard serves /v1/responses over Chat Completions on every provider,
 * where none of them exists, so none can be passed through: each is dropped from the request
 * with an `x-switchyard-warnings` header naming it, rather than failing the request (Codex CLI
 * sends `web_search` on every turn). docs/api.md, "Responses tools", lists the decision per type.
 */
export const HOSTED_TOOL_TYPES: ReadonlySet<string> = new Set([
  'web_search',
  'web_search_2025_08_26',
  'web_search_preview',
  'web_search_preview_2025_03_11',
  'file_search',
  'code_interpreter',
  'image_generation',
  'computer_use_preview',
  'computer',
  'local_shell',
  'shell',
  'apply_patch',
  'tool_search',
  'programmatic_tool_calling',
  'custom',
]);

/** Separator between a namespace and a tool name in the flattened function name. */
export const NAMESPACE_SEPARATOR = '__';

/** A function tool flattened out of a `namespace` tool: the name the model sees → the pair. */
export type NamespacedNames = Map<string, { namespace: string; name: string }>;

/** The tools of a request, ready for parseTools, plus what was changed on the way. */
export interface PreparedTools {
  tools: unknown;
  /** Warnings for the `x-switchyard-warnings` header (one per dropped tool). */
  warnings: string[];
  /** Flattened namespace members; empty when there were none. */
  namespaced: NamespacedNames;
}

/**
 * Flattens `namespace` tools (a namespace holding function tools, as Codex CLI sends its
 * multi-agent tools) into function tools named `<namespace>__<name>`, which every provider
 * accepts, and drops hosted tools with a warning. Calls are mapped back to `namespace` + `name`
 * on output (OutputBuilder) and on input (to-chat.ts).
 */
export function prepareTools(value: unknown): PreparedTools {
  const warnings: string[] = [];
  const namespaced: NamespacedNames = new Map();
  if (!Array.isArray(value)) return { tools: value, warnings, namespaced };
  const tools: unknown[] = [];
  for (const [index, tool] of value.entries()) {
    const type = isRecord(tool) ? tool['type'] : undefined;
    if (isRecord(tool) && type === 'namespace')
      tools.push(...flattenNamespace(tool, `tools[${index}]`, namespaced));
    else if (isRecord(tool) && typeof type === 'string' && HOSTED_TOOL_TYPES.has(type)) {
      const name = typeof tool['name'] === 'string' ? ` '${tool['name']}'` : '';
      warnings.push(`tool ${type}${name} dropped: not run by Switchyard`);
    } else tools.push(tool);
  }
  return { tools, warnings, namespaced };
}

function flattenNamespace(
  tool: Record<string, unknown>,
  at: string,
  namespaced: NamespacedNames,
): unknown[] {
  const namespace = tool['name'];
  if (typeof namespace !== 'string' || namespace === '')
    throw invalidParam(`Missing required parameter: '${at}.name'.`, `${at}.name`);
  if (!Array.isArray(tool['tools']) || tool['tools'].length === 0)
    throw invalidParam(`Invalid '${at}.tools': expected a non-empty array.`, `${at}.tools`);
  const prefix =
    typeof tool['description'] === 'string' && tool['description'] !== ''
      ? `${tool['description']}\n\n`
      : '';
  return tool['tools'].map((member, j) => {
    const where = `${at}.tools[${j}]`;
    if (!isRecord(member) || member['type'] !== 'function' || typeof member['name'] !== 'string')
      throw invalidParam(
        `Invalid '${where}': a namespace may hold function tools only here.`,
        where,
      );
    const flat = `${namespace}${NAMESPACE_SEPARATOR}${member['name']}`;
    namespaced.set(flat, { namespace, name: member['name'] });
    const description = typeof member['description'] === 'string' ? member['description'] : '';
    return merged(member, { name: flat, description: prefix + description });
  });
}

/** The flattened name of a call made in a namespace (input items carry both). */
export function flatToolName(name: string, namespace: unknown): string {
  return typeof namespace === 'string' && namespace !== ''
    ? `${namespace}${NAMESPACE_SEPARATOR}${name}`
    : name;
}
