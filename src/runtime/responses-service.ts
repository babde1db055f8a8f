import type { Principal } from '../gateway/types.js';
import type { CreateOutcome } from './responses-create.js';
import type { CompactParams, CompactResource } from './responses-read.js';
import type {
  CallContext,
  CreateResponseParams,
  ItemList,
  ListOptions,
  ResponseObject,
} from './types.js';

/** The Responses service: every operation of `/v1/responses`. */
export interface ResponsesService {
  create(params: CreateResponseParams, call: CallContext): Promise<CreateOutcome>;
  retrieve(principal: Principal, id: string): Promise<ResponseObject>;
  /** SSE text of the stored events after `startingAfter`. */
  replay(principal: Principal, id: string, startingAfter: number | undefined): Promise<string[]>;
  delete(
    principal: Principal,
    id: string,
  ): Promise<{ id: string; object: 'response'; deleted: true }>;
  listInputItems(principal: Principal, id: string, options: ListOptions): Promise<ItemList>;
  compact(params: CompactParams, call: CallContext): Promise<CompactResource>;
  countInputTokens(
    params: CreateResponseParams,
    call: CallContext,
  ): Promise<{ object: 'response.input_tokens'; input_tokens: number }>;
  /** `POST /responses/{id}/cancel` (background runs; runtime/agent). */
  cancel?(principal: Principal, id: string): Promise<ResponseObject>;
  /** Live replay of a background run (`GET …?stream=true`); undefined when `id` is not one. */
  follow?(
    principal: Principal,
    id: string,
    startingAfter: number | undefined,
    signal?: AbortSignal,
  ): Promise<AsyncIterable<string> | undefined>;
}
