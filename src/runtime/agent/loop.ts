import type { ChatCompletion } from '../../core/chat.js';
import { GatewayError, toGatewayError } from '../../errors/index.js';
import { RuntimeError } from '../errors.js';
import type { Principal } from '../../gateway/types.js';
import type { NewItem } from '../../store/index.js';
import { endUserOf, toChatRequest } from '../chat-request.js';
import { expiry, type RuntimeDeps, seconds } from '../deps.js';
import {
  cacheWrites,
  failedResponse,
  finishedResponse,
  responseUsage,
} from '../response-object.js';
import { itemsToMessages } from '../to-chat.js';
import type {
  CreateResponseParams,
  FunctionTool,
  Item,
  ResponseObject,
  ResponseUsage,
} from '../types.js';
import { connectMcp, type McpSession, type McpToolInfo } from '../tools/mcp-client.js';
import type { OutboundPolicy } from '../tools/ssrf.js';
import { callHttpTool, type HttpTool } from '../tools/http-tools.js';
import { mcpItemsForModel, type McpToolParam, needsApproval, toolAllowed } from './mcp-items.js';
import { merged } from '../../core/objects.js';

/**
 * The server-run agent loop of one response: list the MCP servers' tools (`mcp_list_tools`,
 * reused from the chain when already listed there), call the model with them as function
 * tools, run the MCP calls it asks for (`mcp_call`) or stop at an `mcp_approval_request`, and
 * call the model again with the results, until it answers without tool calls, asks for a
 * client-side function call, or the step cap is reached.
 *
 * Every step is checkpointed through {@link Checkpointer} before the next begins: the model's
 * answer (with its MCP calls marked `calling`), the start of each tool call, each tool result.
 * A run resumed from a checkpoint never repeats a recorded step; a tool call that had started
 * but has no recorded result is not repeated either — it is recorded as failed ("interrupted").
 */

/** Limits of the loop (config `runtime.tools`). */
export interface AgentLimits {
  policy: OutboundPolicy;
  /** Per MCP request (connect, list, call), ms. */
  toolTimeoutMs: number;
  /** Model calls per response. */
  maxSteps: number;
  /** Tool output kept (characters); longer output is truncated. */
  maxToolOutputChars: number;
  /** A non-idempotent call interrupted by a crash: record it failed and go on, or fail the run. Default `continue`. */
  interruptedCalls?: 'continue' | 'fail';
}

/** What a run needs to start or resume (stored in the run row; tool headers included). */
export interface AgentRequest {
  params: CreateResponseParams;
  mcpTools: McpToolParam[];
  /** Server-registered HTTP tools the request lists (tools/http-tools.ts). */
  httpTools?: HttpTool[];
  principal: Principal;
  requestId: string;
  tags?: string[] | undefined;
}

/** The checkpointed progress of a run. */
export interface AgentState {
  /** History (chain or conversation) and this request's input, fixed at the start. */
  history: Item[];
  input: Item[];
  output: Item[];
  usage: ResponseUsage | null;
  steps: number;
  /** Ids of `mcp_call` items whose call was started. */
  started: string[];
  /** Events emitted so far (numbered). */
  events: Array<Record<string, unknown>>;
  /** Set when the run reached its end. */
  done: boolean;
}

/** Where a run's progress goes. Returns `cancel: true` when the run should stop. */
export interface Checkpointer {
  save(state: AgentState, response: ResponseObject): Promise<{ stop: StopReason | null }>;
  /**
   * Called once the final response is stored: a background run deleted while it ended (its row
   * gone) removes what was just stored, so a DELETE racing the end of a run still wins.
   */
  persisted?(): Promise<void>;
}

/**
 * Why a run stops before its end: `cancel` (it ends cancelled), `lost` (another owner holds
 * the lease now) or `handover` (this process is shutting down: the run stops at its next
 * checkpoint, its lease is released and another replica resumes it from there).
 */
export type StopReason = 'cancel' | 'lost' | 'handover';

export class RunStopped extends Error {
  constructor(readonly reason: StopReason) {
    super(reason === 'cancel' ? 'cancelled' : reason === 'lost' ? 'lease lost' : 'handed over');
  }
}

const truncate = (text: string, max: number) =>
  text.length <= max ? text : `${text.slice(0, max)}\n…[truncated ${text.length - max} characters]`;

/**
 * The error for an MCP server whose tool list cannot be read (unreachable, refused by the SSRF
 * policy, not MCP): OpenAI answers it with HTTP 424 `external_connector_error` before any
 * output, so a whole (non-background, non-streamed) request does the same (agent/service.ts).
 */
export function mcpListError(message: string): RuntimeError {
  return new RuntimeError(message, {
    status: 424,
    param: 'tools',
    apiType: 'external_connector_error',
    apiCode: 'http_error',
    code: 'upstream_bad_response',
  });
}

/**
 * Runs (or resumes) the loop; resolves with the final Response (completed, incomplete, failed
 * or cancelled). `toolSignal` aborts tool calls; it is `signal` unless the caller lets a tool
 * call in flight finish (and its result be recorded) after `signal` stopped the run (handover).
 * `onListed` is called once every MCP server's tool list was read (before any model call).
 */
export async function runAgent(
  deps: RuntimeDeps,
  limits: AgentLimits,
  request: AgentRequest,
  shell: ResponseObject,
  state: AgentState,
  checkpoints: Checkpointer,
  signal: AbortSignal,
  onEvent: (event: Record<string, unknown>) => void,
  toolSignal: AbortSignal = signal,
  onListed?: () => void,
): Promise<ResponseObject> {
  const { params } = request;
  const emit = (event: Record<string, unknown>) => {
    const numbered = merged(event, { sequence_number: state.events.length });
    state.events.push(numbered);
    onEvent(numbered);
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
    // Every server is listed: a streamed request may commit its SSE headers now (service.ts).
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
      announceCall(call);
      await save();
    }
    await runPendingCalls();

    // 3. The loop.
    while (!state.done) {
      if (state.steps >= limits.maxSteps) {
        state.done = true;
        return await finish(
          finishedResponse(
            shell,
            clean(state.output),
            state.usage ?? responseUsage(undefined),
            null,
            seconds(deps.clock()),
          ),
          'max_steps',
        );
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
      const finishReason = applyModelAnswer(outcome.completion);
      await save();
      await runPendingCalls();
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
        return await finish(
          finishedResponse(
            shell,
            clean(state.output),
            state.usage ?? responseUsage(undefined),
            finishReason,
            seconds(deps.clock()),
          ),
        );
      }
    }
    return await finish(
      finishedResponse(
        shell,
        clean(state.output),
        state.usage ?? responseUsage(undefined),
        null,
        seconds(deps.clock()),
      ),
    );
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
      return await finish(cancelled);
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
    return await finish(failed);
  } finally {
    await Promise.all([...sessions.values()].map((open) => open.close()));
  }

  async function finish(response: ResponseObject, _reason?: string): Promise<ResponseObject> {
    // The Responses stream has no event of its own for a cancelled response (`response.cancelled`
    // is a webhook event only, and openai-node's stream helper throws on event types it does not
    // know), so a cancelled run ends with `response.failed` carrying the Response, whose status is
    // `cancelled` and whose error is null: followers see a terminal event, and the final snapshot
    // is the cancelled Response that GET returns.
    const type =
      response.status === 'completed'
        ? 'response.completed'
        : response.status === 'incomplete'
          ? 'response.incomplete'
          : 'response.failed';
    emit({ type, response });
    state.done = true;
    // Lost the lease while ending (stalled past it): the new owner finishes and stores the run;
    // storing it here as well would store it twice.
    if ((await checkpoints.save(state, response)).stop === 'lost') throw new RunStopped('lost');
    await persist(response);
    await checkpoints.persisted?.();
    return response;
  }

  async function persist(response: ResponseObject): Promise<void> {
    const ok = response.status === 'completed' || response.status === 'incomplete';
    if (!params.store && (!ok || params.conversationId === null)) return;
    const items: NewItem[] = [];
    for (const item of state.input)
      items.push({ id: String(item.id), type: item.type, kind: 'input', body: item });
    if (ok)
      for (const item of response.output)
        items.push({ id: String(item.id), type: item.type, kind: 'output', body: item });
    const now = deps.clock();
    await deps.repository.saveResponse({
      tenantId: request.principal.tenantId,
      now,
      response: params.store
        ? {
            id: response.id,
            previousResponseId: params.previousResponseId,
            conversationId: params.conversationId,
            status: response.status,
            model: params.model,
            createdAt: now,
            expiresAt: expiry(now, deps.retention.retentionDays),
            body: response,
          }
        : undefined,
      items,
      events: JSON.stringify(state.events),
      conversationId: ok ? (params.conversationId ?? undefined) : undefined,
    });
  }

  /** Records the model's answer as items (message, client function calls, MCP calls or approval requests). */
  function applyModelAnswer(completion: ChatCompletion): string | null {
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
        const id = deps.ids('fc_');
        const item: Item = {
          id,
          type: 'function_call',
          status: 'calling',
          arguments: args,
          call_id: call.id,
          name,
          _step: state.steps,
          _http: true,
        };
        const index = place(item);
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
          name,
          arguments: args,
        });
      } else if (!tool) {
        const id = deps.ids('fc_');
        const item: Item = {
          id,
          type: 'function_call',
          status: 'completed',
          arguments: args,
          call_id: call.id,
          name,
          _step: state.steps,
        };
        const index = place(item);
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
          name,
          arguments: args,
        });
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
        announceCall({
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

  function announceCall(call: Item): void {
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

  /** Whether the MCP server listed `name` with `annotations.idempotentHint: true`. */
  function mcpIdempotent(serverLabel: string, name: string): boolean {
    const info = listed.get(serverLabel)?.find((entry) => entry.name === name);
    return info?.annotations?.['idempotentHint'] === true;
  }

  /** Under `interruptedCalls: fail`, an interrupted call fails the run (after it is recorded). */
  function interrupted(name: string): void {
    if (limits.interruptedCalls !== 'fail') return;
    throw new GatewayError(
      `The tool call '${name}' was interrupted when the process running it stopped, and the tool is not idempotent; runtime.tools.interruptedCalls is "fail".`,
      { code: 'tool_call_interrupted', status: 500, errorClass: 'internal' },
    );
  }

  /** Runs every recorded MCP call without a result, checkpointing its start and its result. */
  async function runPendingCalls(): Promise<void> {
    for (const [index, call] of state.output.entries()) {
      if (call['_http'] === true && call['status'] === 'calling') {
        await runHttpCall(index, call);
        continue;
      }
      if (call.type !== 'mcp_call' || call['status'] !== 'calling') continue;
      const id = String(call.id);
      // Started by an earlier owner that died before recording the result: repeated only when
      // the server marks the tool idempotent (MCP `annotations.idempotentHint`), else recorded
      // failed and, as `runtime.tools.interruptedCalls` says, the run goes on or fails.
      if (
        state.started.includes(id) &&
        !mcpIdempotent(String(call['server_label']), String(call['name']))
      ) {
        call['status'] = 'failed';
        call['error'] =
          'The tool call was interrupted (the gateway restarted during the call); it was not retried.';
        emit({ type: 'response.mcp_call.failed', output_index: index, item_id: id });
        emit({ type: 'response.output_item.done', output_index: index, item: strip(call) });
        await save();
        interrupted(String(call['name']));
        continue;
      }
      const tool = request.mcpTools.find((entry) => entry.server_label === call['server_label']);
      if (!state.started.includes(id)) state.started.push(id);
      emit({ type: 'response.mcp_call.in_progress', output_index: index, item_id: id });
      await save();
      try {
        if (!tool)
          throw new Error(`MCP server '${String(call['server_label'])}' is not in 'tools'`);
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
  async function runHttpCall(index: number, call: Item): Promise<void> {
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
    if (wasInterrupted) interrupted(String(call['name']));
  }
}

/** Items without the loop's private fields (`_step`, `_http`). */
function strip(item: Item): Item {
  const { _step: _unused, _http: _unusedHttp, ...rest } = item;
  return rest as Item;
}

function clean(items: Item[]): Item[] {
  return items.map(strip);
}

function toolError(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
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
