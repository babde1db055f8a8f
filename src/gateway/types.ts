import type { ClientSignal } from '../transport/abort.js';
import type {
  ChatCompletion,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../core/chat.js';
import type { Usage } from '../core/usage.js';
import type { StreamItem } from '../providers/adapter.js';
import type { DroppedControl } from '../providers/controls.js';

import type { ApiKind } from '../config/index.js';
import type { SurfaceName } from '../core/surface.js';

export type { SurfaceName };

/** Who is calling: resolved from the API key by access. */
export interface Principal {
  /** Virtual key id; `master` for the master key; null for an anonymous loopback client. */
  keyId: string | null;
  tenantId: string;
  projectId: string;
  isMaster: boolean;
  /** Model patterns this key may use; undefined = all. */
  allowedModels?: string[] | undefined;
  /** The key asks for `usage.cost` in every body (its `include_cost` option). Default false. */
  includeCost?: boolean | undefined;
}

/** A credential as a surface found it. */
export type Credential = { kind: 'bearer'; token: string } | { kind: 'none' };

/** One chat request entering the gateway core from any surface. */
export interface ChatInvocation {
  requestId: string;
  surface: SurfaceName;
  body: ChatRequest;
  principal: Principal;
  /** Aborted when the client goes away. */
  signal: ClientSignal;
  /** Routing hints from the client (header `x-switchyard-tags`, or metadata). */
  tags?: string[] | undefined;
  /** Skip recording usage (the runtime records its own per-response usage). Default false. */
  internal?: boolean;
  /**
   * Answer `usage.cost` (the booked cost, USD) in the body: the surface saw the caller ask
   * (header `x-switchyard-include-cost: true`). The chat body's `usage: {include: true}` and
   * the config's `billing.costInBody` ask too. Default false.
   */
  includeCost?: boolean;
  /**
   * The end user for per-user budgets when it is not in the body (the Responses API's
   * `safety_identifier`); else the body's `user` / `safety_identifier` is used.
   */
  endUser?: string | undefined;
  /**
   * The request's API kind, for licence `apis` (docs/routing.md#api-kinds). Default: `stateful`
   * on the Responses surface (the runtime says `responses` for a stateless call), else `chat`.
   */
  apiKind?: ApiKind | undefined;
}

/** Where a request went, for response headers and the usage record. */
export interface RouteMeta {
  /** Logical model finally used. */
  model: string;
  /** Provider id that served (or last tried). */
  deployment: string | null;
  upstreamModel: string | null;
  partner: string | null;
  attempts: number;
  sandbox: boolean;
  /** True when the serving upstream speaks OpenAI chat (raw forwarding possible). */
  openAIFamily: boolean;
  /** `lowest-net-cost`: the serving deployment's estimated net cost, USD (`x-switchyard-net-cost`). */
  netCost?: string;
  /** `lowest-net-cost`: every ranked deployment's figures (`x-switchyard-net-costs`). */
  netCosts?: string;
  /**
   * Request controls the serving deployment could not honour (prompt caching, service tier, ...:
   * providers/controls.ts), left out of the upstream request; said in `x-switchyard-warnings`.
   */
  dropped?: DroppedControl[] | undefined;
}

/** The answer to a chat invocation: a whole completion, or a stream of items. */
export type ChatOutcome =
  | {
      kind: 'json';
      completion: ChatCompletion;
      rawBody?: string | undefined;
      usage: Usage | undefined;
      meta: RouteMeta;
      /** Access headers (x-ratelimit-*) and `x-switchyard-cost`. */
      headers: Record<string, string>;
      /** What the ledger booked for the request, µUSD; absent when unknown (not recorded). */
      cost?: bigint;
    }
  | {
      kind: 'stream';
      /** Headers from access (x-ratelimit-*), to send with the answer. */
      headers: Record<string, string>;
      /** Items in order; the final usage-only item (if any) comes last. Recording happens before the iterator ends. */
      items: AsyncIterable<StreamItem>;
      meta: RouteMeta;
    };

export interface EmbeddingsInvocation {
  requestId: string;
  surface: SurfaceName;
  body: EmbeddingsRequest;
  principal: Principal;
  signal: ClientSignal;
}

export interface EmbeddingsOutcome {
  response: EmbeddingsResponse;
  meta: RouteMeta;
  headers: Record<string, string>;
}

/** A logical model as listed by GET /v1/models. */
export interface ModelInfo {
  id: string;
  kind: 'chat' | 'embedding';
  contextWindow?: number | undefined;
  capabilities: string[];
  ownedBy: string;
}

/** The gateway core every surface calls: access, routing, execution, usage. */
export interface Gateway {
  /** Resolves a key (or, with no master key configured, a loopback client). Throws 401 GatewayError. */
  authenticate(credential: Credential, remoteAddress: string | undefined): Promise<Principal>;
  /**
   * For SigV4 clients (Bedrock surface): the secret that signs for `accessKeyId` (`master` for the
   * master key) and the principal it stands for; undefined when unknown.
   */
  resolveSigV4Secret(
    accessKeyId: string,
  ): Promise<{ secret: string; principal: Principal } | undefined>;
  chat(invocation: ChatInvocation): Promise<ChatOutcome>;
  embeddings(invocation: EmbeddingsInvocation): Promise<EmbeddingsOutcome>;
  models(principal: Principal): ModelInfo[];
  /** Records a failed request that never reached the router (bad input, auth), so every request has a usage row. */
  recordRejected(input: {
    requestId: string;
    surface: SurfaceName;
    principal: Principal | null;
    model: string | null;
    status: number;
    code: string;
    stream: boolean;
  }): Promise<void>;
}
