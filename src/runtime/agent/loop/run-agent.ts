import { GatewayError, toGatewayError } from '../../../errors/index.js';
import { merged } from '../../../core/objects.js';
import { endUserOf, toChatRequest } from '../../chat-request.js';
import { seconds } from '../../deps.js';
import { failedResponse, finishedResponse, responseUsage } from '../../response-object.js';
import { itemsToMessages } from '../../to-chat.js';
import type { FunctionTool, Item, ResponseObject } from '../../types.js';
import { connectMcp, type McpSession, type McpToolInfo } from '../../tools/mcp-client.js';
import { mcpItemsForModel, type McpToolParam, toolAllowed } from '../mcp-items.js';
import type { AgentRun } from './agent-run.js';
import { mcpListError, RunStopped } from './errors.js';
import { finish } from './finish.js';
import { announceCall, applyModelAnswer } from './model-answer.js';
import { clean } from './output-items.js';
import { runPendingCalls, toolError } from './tool-calls.js';
import type { RunControl, RunInputs } from './types.js';

/**
 * The server-run agent loop of one response: list the MCP servers' tools (`mcp_list_tools`,
 * reused from the chain when already listed there), call the model with them as function
 * tools, run the MCP calls it asks for (`mcp_call`) or stop at an `mcp_approval_request`, and
 * call the model again with the results, until it answers without tool calls, asks for a
 * client-side function call, or the step cap is reached.
 *
 * Every step is checkpointed through the inputs' `checkpoints` before the next begins: the model's
 * answer (with its MCP calls marked `calling`), the start of each tool call, each tool result.
 * A run resumed from a checkpoint never repeats a recorded step; a tool call that had started
 * but has no recorded result is not repeated either — it is recorded as failed ("interrupted").
 */

/**
 * Runs (or resumes) the loop; resolves with the final Response (completed, incomplete, failed
 * or cancelled). See {@link RunControl} for how the caller follows and stops it.
 */
export async function runAgent(inputs: RunInputs, control: RunControl): Promise<ResponseObject> {
  const { deps, limits, request, shell, state, checkpoints } = inputs;
  const { signal, onEvent, toolSignal = signal, onListed } = control;
  const { params } = request;
  const emit = (event: Record<string, unknown>) => {
    const numbered = merged(event, { sequence_number: state.events.length });
    state.events.push(numbered);
    onEvent?.(numbered);
  };
  const snapshot = (): ResponseObject =>
    merged(shell, {
      status: 'in_progress',
      output: clean(state.output),
      usage: state.usage,
    });
  const save = async () => {
    const { stop } = await checkpoints.save(state, snapshot());
    if (stop) throw new RunStopped(stop);
  };
  const sessions = new Map<string, McpSession>();
  const session = async (tool: McpToolParam): Promise<McpSession> => {
    let open = sessions.get(tool.server_label);
    if (!open) {
      open = await connectMcp({
        url: tool.server_url,
        headers: tool.headers ?? {},
        policy: limits.policy,
        timeoutMs: limits.toolTimeoutMs,
      });
      sessions.set(tool.server_label, open);
    }
    return open;
  };
  const place = (item: Item): number => {
    state.output.push(item);
    return state.output.length - 1;
  };

  /** Tools of each MCP server: from the chain or the input when listed there, else listed now. */
  const listed = new Map<string, McpToolInfo[]>();
  const byName = new Map<string, McpToolParam>();
  const functions: FunctionTool[] = [];
  const httpByName = new Map((request.httpTools ?? []).map((tool) => [tool.name, tool]));
  const clientTools: FunctionTool[] = params.tools.map((fn) => {
    const registered = httpByName.get(fn.name);
    if (!registered) return fn;
    return merged(fn, {
      description: fn.description ?? registered.description,
      parameters: fn.parameters ?? registered.parameters,
    });
  });
  const run: AgentRun = {
    deps,
    limits,
    request,
    params,
    state,
    checkpoints,
    toolSignal,
    emit,
    place,
    save,
    session,
    listed,
    byName,
    httpByName,
  };
  /** The Response as the model's answer ends the run (incomplete for `length`, a filter). */
  const answered = (finishReason: string | null): ResponseObject =>
    finishedResponse(
      shell,
      clean(state.output),
      state.usage ?? responseUsage(undefined),
      finishReason,
      seconds(deps.clock()),
    );
  try {
    if (state.events.length === 0) {
      emit({ type: 'response.created', response: merged(shell, { status: 'in_progress' }) });
      emit({ type: 'response.in_progress', response: merged(shell, { status: 'in_progress' }) });
      await save();
    } else if (
      shell.background === true &&
      !state.events.some((event) => event['type'] === 'response.in_progress')
    ) {
      // A background run leaves `queued` as soon as a worker starts it (GET shows in_progress during its first model call).
      emit({ type: 'response.in_progress', response: merged(shell, { status: 'in_progress' }) });
      await save();
    }

    // Stopped before it resumed (a cancel taken over from a dead owner): nothing more is run.
    if (signal.aborted)
      throw signal.reason instanceof RunStopped ? signal.reason : new RunStopped('cancel');

    // 1. Tools of every server: from the chain or the input (a client keeping its own state sends
    //    its mcp_list_tools back) when listed there already, else listed now.
    for (const item of [...state.history, ...state.input, ...state.output]) {
      if (item.type === 'mcp_list_tools' && item['error'] == null)
        listed.set(String(item['server_label']), item['tools'] as McpToolInfo[]);
    }
    for (const tool of request.mcpTools) {
      if (listed.has(tool.server_label)) continue;
      const id = deps.ids('mcpl_');
      const item: Item = { id, type: 'mcp_list_tools', server_label: tool.server_label, tools: [] };
      const index = place(item);
      emit({ type: 'response.output_item.added', output_index: index, item: { ...item } });
      emit({ type: 'response.mcp_list_tools.in_progress', output_index: index, item_id: id });
      try {
        const tools = (await (await session(tool)).listTools()).filter((entry) =>
          toolAllowed(tool, entry.name),
        );
        item['tools'] = tools;
        listed.set(tool.server_label, tools);
        emit({ type: 'response.mcp_list_tools.completed', output_index: index, item_id: id });
        emit({ type: 'response.output_item.done', output_index: index, item: { ...item } });
      } catch (thrown) {
        item['error'] =
          `Error retrieving tool list from MCP server: '${tool.server_label}'. ${toolError(thrown)}`;
        emit({ type: 'response.mcp_list_tools.failed', output_index: index, item_id: id });
        emit({ type: 'response.output_item.done', output_index: index, item: { ...item } });
        throw mcpListError(String(item['error']));
      }
      await save();
    }
    // Every server is listed: a streamed request may commit its SSE headers now (stream-run.ts).
    onListed?.();
    for (const tool of request.mcpTools) {
      for (const info of listed.get(tool.server_label) ?? []) {
        // A reused listing is filtered again: allowed_tools may be narrower in this request.
        if (
          !toolAllowed(tool, info.name) ||
          byName.has(info.name) ||
          clientTools.some((fn) => fn.name === info.name)
        )
          continue;
        byName.set(info.name, tool);
        functions.push({
          type: 'function',
          name: info.name,
          description: info.description ?? null,
          parameters: info.input_schema ?? { type: 'object', properties: {} },
        });
      }
    }

    // 2. Approval responses in the input: run (or refuse) the requested calls.
    const everything = () => [...state.history, ...state.input, ...state.output];
    for (const answer of state.input.filter(
      (item) => item.type === 'mcp_approval_response' && item['approve'] === true,
    )) {
      const requestId = String(answer['approval_request_id']);
      // Already run: in this response (a resumed run) or earlier (a client resending its items).
      if (
        everything().some(
          (item) => item.type === 'mcp_call' && item['approval_request_id'] === requestId,
        )
      )
        continue;
      const asked = everything().find(
        (item) => item.type === 'mcp_approval_request' && item.id === requestId,
      );
      if (!asked)
        throw new GatewayError(
          `No mcp_approval_request with id '${requestId}' in this response chain.`,
          { code: 'invalid_request', status: 400, errorClass: 'invalid_request' },
        );
      const tool = request.mcpTools.find((entry) => entry.server_label === asked['server_label']);
      if (!tool)
        throw new GatewayError(
          `The MCP server '${String(asked['server_label'])}' is not in 'tools'.`,
          { code: 'invalid_request', status: 400, errorClass: 'invalid_request' },
        );
      const call: Item = {
        id: deps.ids('mcp_'),
        type: 'mcp_call',
        server_label: tool.server_label,
        name: String(asked['name']),
        arguments: String(asked['arguments'] ?? '{}'),
        approval_request_id: requestId,
        output: null,
        error: null,
        status: 'calling',
      };
      announceCall(run, call);
      await save();
    }
    await runPendingCalls(run);

    // 3. The loop.
    while (!state.done) {
      if (state.steps >= limits.maxSteps) {
        state.done = true;
        return await finish(run, answered(null));
      }
      if (signal.aborted)
        throw signal.reason instanceof RunStopped ? signal.reason : new RunStopped('cancel');
      const messages = [
        ...(params.instructions ? [{ role: 'system' as const, content: params.instructions }] : []),
        ...itemsToMessages(mcpItemsForModel(everything()), params.model),
      ];
      const body = toChatRequest(
        merged(params, { tools: [...clientTools, ...functions] }),
        messages,
        false,
      );
      const outcome = await deps.gateway.chat({
        requestId:
          state.steps === 0 ? request.requestId : `${request.requestId}:step${state.steps}`,
        surface: 'openai-responses',
        body,
        principal: request.principal,
        signal,
        tags: request.tags,
        endUser: endUserOf(params),
      });
      if (outcome.kind !== 'json')
        throw new GatewayError('Expected a JSON answer from the model', {
          code: 'upstream_bad_response',
          status: 502,
          errorClass: 'bad_response',
        });
      state.steps++;
      const finishReason = applyModelAnswer(run, outcome.completion);
      await save();
      await runPendingCalls(run);
      const last = state.output;
      const waiting = last.some(
        (item) =>
          item.type === 'mcp_approval_request' &&
          !state.input.some((answer) => answer['approval_request_id'] === item.id) &&
          item['_step'] === state.steps,
      );
      const clientCalls = last.some(
        (item) =>
          item.type === 'function_call' && item['_http'] !== true && item['_step'] === state.steps,
      );
      const mcpCalls = last.some(
        (item) =>
          (item.type === 'mcp_call' || item['_http'] === true) && item['_step'] === state.steps,
      );
      if (waiting || clientCalls || !mcpCalls) {
        state.done = true;
        return await finish(run, answered(finishReason));
      }
    }
    return await finish(run, answered(null));
  } catch (thrown) {
    if (thrown instanceof RunStopped && thrown.reason !== 'cancel') throw thrown;
    if (
      thrown instanceof RunStopped ||
      (signal.aborted && signal.reason instanceof RunStopped && signal.reason.reason === 'cancel')
    ) {
      // Every item ends in a terminal status, as OpenAI's cancelled responses do: a call that was
      // still running is `incomplete`, never left `calling` or `in_progress` forever.
      for (const item of state.output)
        if (item['status'] === 'calling' || item['status'] === 'in_progress')
          item['status'] = 'incomplete';
      const cancelled: ResponseObject = merged(shell, {
        status: 'cancelled',
        output: clean(state.output),
        usage: null,
      });
      state.done = true;
      return await finish(run, cancelled);
    }
    if (signal.aborted && signal.reason instanceof RunStopped) throw signal.reason;
    const error = toGatewayError(thrown);
    const failed = failedResponse(shell, clean(state.output), state.usage, error);
    emit({
      type: 'error',
      code: error.code,
      message: error.message,
      param: null,
      error: { type: 'server_error', code: error.code, message: error.message, param: null },
    });
    state.done = true;
    return await finish(run, failed);
  } finally {
    await Promise.all([...sessions.values()].map((open) => open.close()));
  }
}
