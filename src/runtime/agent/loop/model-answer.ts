import type { ChatCompletion } from '../../../core/chat.js';
import { merged } from '../../../core/objects.js';
import { GatewayError } from '../../../errors/index.js';
import { cacheWrites, responseUsage } from '../../response-object.js';
import type { Item, ResponseUsage } from '../../types.js';
import { needsApproval } from '../mcp-items.js';
import type { AgentRun } from './agent-run.js';
import { strip } from './output-items.js';

/** Records the model's answer as items (message, client function calls, MCP calls or approval requests). */
export function applyModelAnswer(run: AgentRun, completion: ChatCompletion): string | null {
  const { deps, state, emit, place, byName, httpByName } = run;
  const choice = completion.choices[0];
  if (!choice)
    throw new GatewayError('The model returned no choices', {
      code: 'upstream_bad_response',
      status: 502,
      errorClass: 'bad_response',
    });
  state.usage = addUsage(state.usage, responseUsage(completion.usage));
  const { message } = choice;
  if (typeof message.content === 'string' && message.content !== '') {
    const id = deps.ids('msg_');
    const text = message.content;
    const item: Item = {
      id,
      type: 'message',
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text, annotations: [] }],
      _step: state.steps,
    };
    const index = place(item);
    const part = { type: 'output_text', text: '', annotations: [] };
    emit({
      type: 'response.output_item.added',
      output_index: index,
      item: { id, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    });
    emit({
      type: 'response.content_part.added',
      item_id: id,
      output_index: index,
      content_index: 0,
      part,
    });
    emit({
      type: 'response.output_text.delta',
      item_id: id,
      output_index: index,
      content_index: 0,
      delta: text,
      logprobs: [],
    });
    emit({
      type: 'response.output_text.done',
      item_id: id,
      output_index: index,
      content_index: 0,
      text,
      logprobs: [],
    });
    emit({
      type: 'response.content_part.done',
      item_id: id,
      output_index: index,
      content_index: 0,
      part: merged(part, { text }),
    });
    emit({ type: 'response.output_item.done', output_index: index, item: strip(item) });
  }
  for (const call of message.tool_calls ?? []) {
    const name = call.function.name;
    const args = call.function.arguments || '{}';
    const tool = byName.get(name);
    if (httpByName.has(name)) {
      const item: Item = {
        id: deps.ids('fc_'),
        type: 'function_call',
        status: 'calling',
        arguments: args,
        call_id: call.id,
        name,
        _step: state.steps,
        _http: true,
      };
      announceFunctionCall(run, item);
    } else if (!tool) {
      const item: Item = {
        id: deps.ids('fc_'),
        type: 'function_call',
        status: 'completed',
        arguments: args,
        call_id: call.id,
        name,
        _step: state.steps,
      };
      const index = announceFunctionCall(run, item);
      emit({ type: 'response.output_item.done', output_index: index, item: strip(item) });
    } else if (needsApproval(tool, name)) {
      const item: Item = {
        id: deps.ids('mcpr_'),
        type: 'mcp_approval_request',
        server_label: tool.server_label,
        name,
        arguments: args,
        _step: state.steps,
      };
      const index = place(item);
      emit({ type: 'response.output_item.added', output_index: index, item: strip(item) });
      emit({ type: 'response.output_item.done', output_index: index, item: strip(item) });
    } else {
      announceCall(run, {
        id: deps.ids('mcp_'),
        type: 'mcp_call',
        server_label: tool.server_label,
        name,
        arguments: args,
        output: null,
        error: null,
        status: 'calling',
        _step: state.steps,
      });
    }
  }
  return choice.finish_reason;
}

/**
 * Records a `function_call` in the output and emits its arguments (added, one delta, done);
 * returns its output index. A client function call is then done at once; a server-run HTTP
 * tool's is done when the tool answers.
 */
function announceFunctionCall(run: AgentRun, item: Item): number {
  const { emit, place } = run;
  const index = place(item);
  const id = String(item.id);
  const args = item['arguments'];
  emit({
    type: 'response.output_item.added',
    output_index: index,
    item: merged(strip(item), { arguments: '', status: 'in_progress' }),
  });
  emit({
    type: 'response.function_call_arguments.delta',
    item_id: id,
    output_index: index,
    delta: args,
  });
  emit({
    type: 'response.function_call_arguments.done',
    item_id: id,
    output_index: index,
    name: item['name'],
    arguments: args,
  });
  return index;
}

/** Records an `mcp_call` (status `calling`) in the output and emits its arguments. */
export function announceCall(run: AgentRun, call: Item): void {
  const { emit, place } = run;
  const index = place(call);
  const id = String(call.id);
  emit({
    type: 'response.output_item.added',
    output_index: index,
    item: merged(strip(call), { arguments: '', status: 'in_progress' }),
  });
  emit({
    type: 'response.mcp_call_arguments.delta',
    output_index: index,
    item_id: id,
    delta: call['arguments'],
  });
  emit({
    type: 'response.mcp_call_arguments.done',
    output_index: index,
    item_id: id,
    arguments: call['arguments'],
  });
}

function addUsage(a: ResponseUsage | null, b: ResponseUsage): ResponseUsage {
  if (!a) return b;
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    input_tokens_details: {
      cached_tokens: a.input_tokens_details.cached_tokens + b.input_tokens_details.cached_tokens,
      ...cacheWrites(
        (a.input_tokens_details.cache_write_tokens ?? 0) +
          (b.input_tokens_details.cache_write_tokens ?? 0),
      ),
    },
    output_tokens: a.output_tokens + b.output_tokens,
    output_tokens_details: {
      reasoning_tokens:
        a.output_tokens_details.reasoning_tokens + b.output_tokens_details.reasoning_tokens,
    },
    total_tokens: a.total_tokens + b.total_tokens,
  };
}
