import type { Clock } from '../core/clock.js';
import type { IdSource } from '../core/ids.js';
import type { Gateway } from '../gateway/types.js';
import type { Catalog } from '../router/catalog.js';
import { createRuntimeRepository, type Database, type RuntimeRepository } from '../store/index.js';
import { createConversationsService, type ConversationsService } from './conversations-service.js';
import type { RetentionOptions, RuntimeDeps } from './deps.js';
import { pooledId } from './ids.js';
import { countInputTokens } from './prepare.js';
import { toChatRequest } from './chat-request.js';
import { createResponse } from './responses-create.js';
import {
  compactContext,
  deleteStoredResponse,
  listInputItems,
  replayResponse,
  retrieveResponse,
} from './responses-read.js';
import { createRetentionSweeper, type RetentionSweeper } from './retention.js';
import type { AgentOptions, AgentRuntime } from './agent/agent-types.js';
import { createAgentRuntime } from './agent/service.js';
import type { ResponsesService } from './responses-service.js';

export type { ResponsesService } from './responses-service.js';

/** The stateful runtime: Responses and Conversations services and the retention sweeper. */
export interface Runtime {
  responses: ResponsesService;
  conversations: ConversationsService;
  sweeper: RetentionSweeper;
  repository: RuntimeRepository;
  /** Server-run tools and background runs (runtime/agent): start its worker once listening. */
  agent: AgentRuntime;
}

/** Options of {@link createRuntime}. */
export interface RuntimeOptions {
  database: Database;
  gateway: Gateway;
  catalog: Pick<Catalog, 'get'>;
  clock: Clock;
  /** Retention (config `runtime`). Defaults: responses 30 days, conversations until deleted. */
  retention?: Partial<RetentionOptions>;
  /** Sweep interval, ms (0 = no timer). Default 600 000. */
  sweepIntervalMs?: number;
  /** Id source (tests pass a deterministic one). Default: random base62 ids with the API's prefixes. */
  ids?: IdSource;
  onSweepError?: (error: unknown) => void;
  /** Server-run tools and background mode (config `runtime.tools`). */
  tools?: AgentOptions;
}

/**
 * Builds the runtime over the app's database and gateway. State lives in the database only,
 * so any number of replicas can serve the same chains and conversations.
 * @example
 * const runtime = createRuntime({ database, gateway, catalog, clock: Date.now });
 * runtime.sweeper.start();
 */
export function createRuntime(options: RuntimeOptions): Runtime {
  const repository = createRuntimeRepository(options.database);
  const deps: RuntimeDeps = {
    repository,
    gateway: options.gateway,
    catalog: options.catalog,
    clock: options.clock,
    ids: options.ids ?? pooledId,
    retention: {
      retentionDays: options.retention?.retentionDays ?? 30,
      conversationRetentionDays: options.retention?.conversationRetentionDays ?? 0,
    },
  };
  const responses: ResponsesService = {
    create: (params, call) => createResponse(deps, params, call),
    retrieve: (principal, id) => retrieveResponse(deps, principal, id),
    replay: (principal, id, startingAfter) => replayResponse(deps, principal, id, startingAfter),
    delete: (principal, id) => deleteStoredResponse(deps, principal, id),
    listInputItems: (principal, id, list) => listInputItems(deps, principal, id, list),
    compact: (params, call) => compactContext(deps, params, call),
    async countInputTokens(params, call) {
      const tools = toChatRequest(params, [], false).tools ?? [];
      return {
        object: 'response.input_tokens',
        input_tokens: await countInputTokens(deps, params, call, tools, deps.clock()),
      };
    },
  };
  const sweeper = createRetentionSweeper({
    repository,
    clock: options.clock,
    intervalMs: options.sweepIntervalMs ?? 600_000,
    runRetentionDays: deps.retention.retentionDays,
    ...(options.onSweepError ? { onError: options.onSweepError } : {}),
  });
  const agent = createAgentRuntime(deps, options.database, responses, options.tools);
  return {
    responses: agent.responses,
    conversations: createConversationsService(deps),
    sweeper,
    repository,
    agent,
  };
}

export type { ConversationObject, ConversationsService } from './conversations-service.js';
export { MAX_ITEMS_PER_CALL } from './conversations-service.js';
export type { CreateOutcome } from './responses-create.js';
export type { CompactParams, CompactResource } from './responses-read.js';
export type { RetentionSweeper } from './retention.js';
export { RuntimeError, renderResponsesError, invalidParam, unsupportedParam } from './errors.js';
export type {
  CallContext,
  CreateResponseParams,
  FunctionTool,
  Item,
  ItemList,
  ListOptions,
  ResponseObject,
  TextFormat,
  ToolChoice,
} from './types.js';
