import { GatewayError } from '../../../errors/index.js';
import { callHttpTool } from '../../tools/http-tools.js';
import type { Item } from '../../types.js';
import type { AgentRun } from './agent-run.js';
import { RunStopped } from './errors.js';
import { strip } from './output-items.js';

const truncate = (text: string, max: number) =>
  text.length <= max ? text : `${text.slice(0, max)}\n…[truncated ${text.length - max} characters]`;

/** Whether the MCP server listed `name` with `annotations.idempotentHint: true`. */
function mcpIdempotent(run: AgentRun, serverLabel: string, name: string): boolean {
  const { listed } = run;
  const info = listed.get(serverLabel)?.find((entry) => entry.name === name);
  return info?.annotations?.['idempotentHint'] === true;
}

/** Under `interruptedCalls: fail`, an interrupted call fails the run (after it is recorded). */
function interrupted(run: AgentRun, name: string): void {
  const { limits } = run;
  if (limits.interruptedCalls !== 'fail') return;
  throw new GatewayError(
    `The tool call '${name}' was interrupted when the process running it stopped, and the tool is not idempotent; runtime.tools.interruptedCalls is "fail".`,
    { code: 'tool_call_interrupted', status: 500, errorClass: 'internal' },
  );
}

/** Runs every recorded MCP call without a result, checkpointing its start and its result. */
export async function runPendingCalls(run: AgentRun): Promise<void> {
  const { state, request, limits, toolSignal, emit, save, session } = run;
  for (const [index, call] of state.output.entries()) {
    if (call['_http'] === true && call['status'] === 'calling') {
      await runHttpCall(run, index, call);
      continue;
    }
    if (call.type !== 'mcp_call' || call['status'] !== 'calling') continue;
    const id = String(call.id);
    // Started by an earlier owner that died before recording the result: repeated only when
    // the server marks the tool idempotent (MCP `annotations.idempotentHint`), else recorded
    // failed and, as `runtime.tools.interruptedCalls` says, the run goes on or fails.
    if (
      state.started.includes(id) &&
      !mcpIdempotent(run, String(call['server_label']), String(call['name']))
    ) {
      call['status'] = 'failed';
      call['error'] =
        'The tool call was interrupted (the gateway restarted during the call); it was not retried.';
      emit({ type: 'response.mcp_call.failed', output_index: index, item_id: id });
      emit({ type: 'response.output_item.done', output_index: index, item: strip(call) });
      await save();
      interrupted(run, String(call['name']));
      continue;
    }
    const tool = request.mcpTools.find((entry) => entry.server_label === call['server_label']);
    if (!state.started.includes(id)) state.started.push(id);
    emit({ type: 'response.mcp_call.in_progress', output_index: index, item_id: id });
    await save();
    try {
      if (!tool) throw new Error(`MCP server '${String(call['server_label'])}' is not in 'tools'`);
      let args: Record<string, unknown> = {};
      try {
        args = JSON.parse(String(call['arguments'] || '{}')) as Record<string, unknown>;
      } catch {
        throw new Error('The model sent arguments that are not valid JSON');
      }
      const output = await (await session(tool)).callTool(String(call['name']), args, toolSignal);
      call['output'] = truncate(output, limits.maxToolOutputChars);
      call['status'] = 'completed';
      emit({ type: 'response.mcp_call.completed', output_index: index, item_id: id });
    } catch (thrown) {
      if (toolSignal.aborted && toolSignal.reason instanceof RunStopped) throw toolSignal.reason;
      call['error'] = truncate(toolError(thrown), limits.maxToolOutputChars);
      call['status'] = 'failed';
      emit({ type: 'response.mcp_call.failed', output_index: index, item_id: id });
    }
    emit({ type: 'response.output_item.done', output_index: index, item: strip(call) });
    await save();
  }
}

/** Runs a server-registered HTTP tool call; records a `function_call_output` after it. */
async function runHttpCall(run: AgentRun, index: number, call: Item): Promise<void> {
  const { deps, state, limits, toolSignal, emit, place, save, httpByName } = run;
  const id = String(call.id);
  const tool = httpByName.get(String(call['name']));
  let output: string;
  const wasInterrupted = state.started.includes(id) && !tool?.idempotent;
  if (wasInterrupted) {
    output =
      'Error: the tool call was interrupted (the gateway restarted during the call); it was not retried because the tool is not idempotent.';
  } else {
    if (!state.started.includes(id)) state.started.push(id);
    await save();
    try {
      if (!tool) throw new Error(`The tool '${String(call['name'])}' is no longer registered`);
      output = truncate(
        await callHttpTool(tool, String(call['arguments'] || '{}'), limits.policy, toolSignal),
        limits.maxToolOutputChars,
      );
    } catch (thrown) {
      if (toolSignal.aborted && toolSignal.reason instanceof RunStopped) throw toolSignal.reason;
      output = `Error: ${truncate(toolError(thrown), limits.maxToolOutputChars)}`;
    }
  }
  call['status'] = 'completed';
  emit({ type: 'response.output_item.done', output_index: index, item: strip(call) });
  const result: Item = {
    id: deps.ids('fco_'),
    type: 'function_call_output',
    call_id: String(call['call_id']),
    output,
    status: 'completed',
  };
  const at = place(result);
  emit({ type: 'response.output_item.added', output_index: at, item: result });
  emit({ type: 'response.output_item.done', output_index: at, item: result });
  await save();
  // Recorded first, as for MCP calls, so a failed run still shows the interrupted call.
  if (wasInterrupted) interrupted(run, String(call['name']));
}

/** The message of a thrown tool error. */
export function toolError(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}
