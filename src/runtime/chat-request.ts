import type { ChatMessage, ChatRequest, ChatTool, ChatToolChoice } from '../core/chat.js';
import type { CreateResponseParams, FunctionTool } from './types.js';

/**
 * A Responses request → the chat body the gateway routes (the internal representation).
 * Only fields every provider knows are set, and only when the client set them, so a
 * translating provider never sees a Responses-only field (it would reject it by name):
 * - `max_output_tokens` → `max_completion_tokens`; `reasoning.effort` → `reasoning_effort`;
 * - `text.format` → `response_format` (`json_schema` keeps name, schema, strict, description);
 * - `tool_choice` `{type:"function", name}` → `{type:"function", function:{name}}`;
 *   `allowed_tools` → the listed tools only, with its `mode` as the choice;
 * - `parallel_tool_calls` only when tools are sent and the client set it;
 * - the controls chat shares (`prompt_cache_key`, `prompt_cache_retention`,
 *   `prompt_cache_options`, `service_tier`, `safety_identifier`) travel as they are; each
 *   provider forwards, translates or drops them (providers/controls.ts);
 * - `metadata`, `store`, `truncation`, `include`, … stay in the runtime (echoed in the Response;
 *   metadata is Switchyard's own record of the response, as it is OpenAI's).
 */
export function toChatRequest(
  params: CreateResponseParams,
  messages: ChatMessage[],
  stream: boolean,
): ChatRequest {
  const body: ChatRequest = { model: params.model, messages };
  let tools = params.tools;
  let choice: ChatToolChoice | undefined;
  const toolChoice = params.toolChoice;
  if (typeof toolChoice === 'string') choice = toolChoice === 'auto' ? undefined : toolChoice;
  else if (toolChoice.type === 'function')
    choice = { type: 'function', function: { name: toolChoice.name } };
  else {
    const allowed = new Set(toolChoice.tools.map((tool) => tool.name));
    tools = tools.filter((tool) => allowed.has(tool.name));
    choice = toolChoice.mode === 'required' ? 'required' : undefined;
  }
  if (tools.length > 0) {
    body.tools = tools.map(toChatTool);
    if (choice !== undefined) body.tool_choice = choice;
    if (params.parallelToolCalls !== null) body.parallel_tool_calls = params.parallelToolCalls;
  }
  if (params.maxOutputTokens !== null) body.max_completion_tokens = params.maxOutputTokens;
  if (params.temperature !== null) body.temperature = params.temperature;
  if (params.topP !== null) body.top_p = params.topP;
  if (params.user !== null) body.user = params.user;
  for (const field of CHAT_CONTROLS) {
    const value = params.echo[field];
    if (value != null) body[field] = value;
  }
  const effort = params.reasoning?.effort;
  if (typeof effort === 'string') body.reasoning_effort = effort;
  const format = params.text.format;
  if (format.type === 'json_object') body.response_format = { type: 'json_object' };
  else if (format.type === 'json_schema') {
    body.response_format = {
      type: 'json_schema',
      json_schema: {
        name: format.name,
        ...(format.schema === undefined ? {} : { schema: format.schema }),
        ...(typeof format.strict === 'boolean' ? { strict: format.strict } : {}),
        ...(typeof format.description === 'string' ? { description: format.description } : {}),
      },
    };
  }
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

/** Responses fields that Chat Completions has under the same name and meaning. */
const CHAT_CONTROLS = [
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
  'service_tier',
  'safety_identifier',
] as const;

function toChatTool(tool: FunctionTool): ChatTool {
  return {
    type: 'function',
    function: {
      name: tool.name,
      ...(typeof tool.description === 'string' ? { description: tool.description } : {}),
      ...(tool.parameters ? { parameters: tool.parameters } : {}),
      ...(tool.strict === true ? { strict: true } : {}),
    },
  };
}

/** The end user a Responses request names, for per-user budgets: `safety_identifier`, else `user`. */
export function endUserOf(params: CreateResponseParams): string | undefined {
  const safety = params.echo['safety_identifier'];
  if (typeof safety === 'string' && safety !== '') return safety;
  return params.user !== null && params.user !== '' ? params.user : undefined;
}
