import type { ApiKind } from '../config/index.js';
import type { ChatCompletion, ChatUsage, FinishReason } from '../core/chat.js';
import { GatewayError, toGatewayError } from '../errors/index.js';
import type { RouteMeta } from '../gateway/types.js';
import type { StreamItem } from '../providers/index.js';
import type { NewItem } from '../store/index.js';
import { endUserOf, toChatRequest } from './chat-request.js';
import { expiry, type RuntimeDeps, seconds } from './deps.js';
import { errorEvent, EventLog } from './event-log.js';
import { OutputBuilder } from './output-builder.js';
import { type Prepared, prepare } from './prepare.js';
import {
  failedResponse,
  finishedResponse,
  honouredShell,
  responseShell,
  responseUsage,
} from './response-object.js';
import type { CallContext, CreateResponseParams, Item, ResponseObject } from './types.js';
import { merged } from '../core/objects.js';

/** The answer to `POST /v1/responses`: a Response, or its event stream (SSE text pieces). */
export type CreateOutcome =
  | {
      kind: 'json';
      response: ResponseObject;
      meta: RouteMeta;
      /** The gateway's headers (x-ratelimit-*, x-switchyard-cost), when a model call made them. */
      headers?: Record<string, string>;
    }
  | {
      kind: 'stream';
      meta: RouteMeta;
      frames: AsyncIterable<string>;
      headers?: Record<string, string>;
    };

/**
 * Creates a response: prepare the context, call the gateway once (plus once to compact, if
 * needed), turn the answer into output items, store the response with its input and output
 * items (and append them to the conversation), then answer. The store write happens before
 * the client sees the end of the answer, so an immediate follow-up on any replica finds it.
 * Failures before the model answers are thrown (plain HTTP errors, failover still possible);
 * after the stream started they become an `error` event and `response.failed`.
 */
export async function createResponse(
  deps: RuntimeDeps,
  params: CreateResponseParams,
  call: CallContext,
): Promise<CreateOutcome> {
  const started = deps.clock();
  call = merged(call, { apiKind: apiKindOf(params) });
  const body = toChatRequest(params, [], params.stream);
  const prepared = await prepare(deps, params, call, body.tools ?? [], started);
  body.messages = prepared.messages;
  const shell = responseShell(params, deps.ids('resp_'), seconds(started));
  const outcome = await deps.gateway.chat({
    requestId: call.requestId,
    surface: 'openai-responses',
    body,
    principal: call.principal,
    signal: call.signal,
    tags: call.tags,
    ...(call.includeCost && { includeCost: true }),
    endUser: endUserOf(params),
    apiKind: call.apiKind,
  });
  const builder = (sink?: (event: Record<string, unknown>) => void) => {
    const output = new OutputBuilder({
      ids: deps.ids,
      sink,
      model: params.model,
      namespaced: params.namespaced,
    });
    if (prepared.compaction) output.addComplete(prepared.compaction.item);
    return output;
  };

  if (outcome.kind === 'json') {
    const output = builder();
    const honoured = honouredShell(shell, outcome.meta.dropped, outcome.completion.service_tier);
    const finish = applyCompletion(output, outcome.completion);
    const response = finishedResponse(
      honoured,
      output.items,
      responseUsage(outcome.completion.usage, prepared.compaction?.usage),
      finish,
      seconds(deps.clock()),
    );
    await persist(deps, params, call, prepared, response, undefined, started);
    return { kind: 'json', response, meta: outcome.meta, headers: outcome.headers };
  }
  return {
    kind: 'stream',
    meta: outcome.meta,
    headers: outcome.headers,
    frames: streamFrames(
      deps,
      params,
      call,
      prepared,
      honouredShell(shell, outcome.meta.dropped),
      outcome.items,
      builder,
      started,
    ),
  };
}

async function* streamFrames(
  deps: RuntimeDeps,
  params: CreateResponseParams,
  call: CallContext,
  prepared: Prepared,
  shell: ResponseObject,
  items: AsyncIterable<StreamItem>,
  builder: (sink: (event: Record<string, unknown>) => void) => OutputBuilder,
  started: number,
): AsyncGenerator<string> {
  const log = new EventLog();
  log.emit({ type: 'response.created', response: shell });
  log.emit({ type: 'response.in_progress', response: shell });
  const output = builder((event) => log.emit(event));
  yield log.drain();
  let usage: ChatUsage | undefined;
  let finish: FinishReason | null = null;
  let tier: string | undefined;
  try {
    for await (const item of items) {
      const chunk = item.chunk();
      if (chunk.usage) usage = chunk.usage;
      if (typeof chunk.service_tier === 'string') tier = chunk.service_tier;
      for (const choice of chunk.choices) {
        if (choice.index !== 0) continue;
        output.delta(choice.delta);
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      const text = log.drain();
      if (text !== '') yield text;
    }
  } catch (thrown) {
    const error = toGatewayError(thrown);
    if (call.signal.aborted) throw error;
    const response = failedResponse(
      shell,
      output.snapshot(),
      usage ? responseUsage(usage, prepared.compaction?.usage) : null,
      error,
    );
    log.emit(errorEvent(error));
    log.emit({ type: 'response.failed', response });
    await persist(deps, params, call, prepared, response, log.json(), started);
    yield log.drain();
    return;
  }
  output.close(finish === 'length' ? 'incomplete' : 'completed');
  const response = finishedResponse(
    honouredShell(shell, undefined, tier),
    output.items,
    responseUsage(usage, prepared.compaction?.usage),
    finish,
    seconds(deps.clock()),
  );
  log.emit({
    type: response.status === 'incomplete' ? 'response.incomplete' : 'response.completed',
    response,
  });
  await persist(deps, params, call, prepared, response, log.json(), started);
  yield log.drain();
}

/** Feeds a whole completion through the builder; returns its finish reason. */
function applyCompletion(output: OutputBuilder, completion: ChatCompletion): FinishReason | null {
  const choice = completion.choices[0];
  if (!choice)
    throw new GatewayError('The model returned no choices', {
      code: 'upstream_bad_response',
      status: 502,
      errorClass: 'bad_response',
    });
  const { message } = choice;
  output.delta(
    merged(
      typeof message.reasoning_content === 'string'
        ? { reasoning_content: message.reasoning_content }
        : {},
      typeof message.reasoning_signature === 'string'
        ? { reasoning_signature: message.reasoning_signature }
        : {},
      merged(
        typeof message.refusal === 'string' ? { refusal: message.refusal } : {},
        typeof message.content === 'string' ? { content: message.content } : {},
        {
          tool_calls: (message.tool_calls ?? []).map((toolCall, index) => ({
            index,
            id: toolCall.id,
            function: toolCall.function,
          })),
        },
      ),
    ),
  );
  output.close(choice.finish_reason === 'length' ? 'incomplete' : 'completed');
  return choice.finish_reason;
}

/**
 * Stores the response (when `store`), its items in context order (a compaction made for it
 * first, then the input, then the rest of the output), its event log, and appends the items
 * to the conversation when the response finished (not when it failed).
 */
async function persist(
  deps: RuntimeDeps,
  params: CreateResponseParams,
  call: CallContext,
  prepared: Prepared,
  response: ResponseObject,
  events: string | undefined,
  started: number,
): Promise<void> {
  const failed = response.status === 'failed';
  if (!params.store && (failed || params.conversationId === null)) return;
  const compaction = prepared.compaction?.item;
  const items: NewItem[] = [];
  if (compaction) items.push(newItem(compaction, 'output'));
  for (const item of prepared.loaded.input) items.push(newItem(item, 'input'));
  if (!failed)
    for (const item of response.output)
      if (item !== compaction) items.push(newItem(item, 'output'));
  const now = deps.clock();
  await deps.repository.saveResponse({
    tenantId: call.principal.tenantId,
    now,
    response: params.store
      ? {
          id: response.id,
          previousResponseId: params.previousResponseId,
          conversationId: params.conversationId,
          status: response.status,
          model: params.model,
          createdAt: started,
          expiresAt: expiry(started, deps.retention.retentionDays),
          body: response,
        }
      : undefined,
    items,
    events,
    conversationId: failed ? undefined : (params.conversationId ?? undefined),
  });
}

function newItem(item: Item, kind: 'input' | 'output'): NewItem {
  return { id: String(item.id), type: item.type, kind, body: item };
}

/**
 * The API kind of a Responses call, for licence `apis`: `responses` when nothing is stored or
 * read back (`store: false`, no `previous_response_id`, no conversation, not in the background),
 * else `stateful`.
 */
export function apiKindOf(
  params: Pick<
    CreateResponseParams,
    'store' | 'previousResponseId' | 'conversationId' | 'background'
  >,
): ApiKind {
  const stateless =
    !params.store &&
    params.previousResponseId === null &&
    params.conversationId === null &&
    params.background !== true;
  return stateless ? 'responses' : 'stateful';
}
