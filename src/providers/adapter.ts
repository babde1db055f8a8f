import type { ClientSignal } from '../transport/abort.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../core/chat.js';
import type { ProviderConfig, ProviderType } from '../config/index.js';
import type { GatewayError } from '../errors/index.js';
import type { SurfaceName } from '../core/surface.js';

/**
 * The ProviderAdapter contract: how one upstream protocol maps to and from the internal
 * representation (OpenAI Chat Completions). Adapters are pure apart from `buildRequest`, which
 * may sign (SigV4) and is therefore async. Transport (sockets, framing) lives in src/transport.
 */

/** The deployment a call is bound for. */
export interface DeploymentTarget {
  /** Provider id from config (`azure-east`). */
  provider: string;
  /** Upstream model id or Azure deployment name. */
  model: string;
  /** Bedrock: `converse` (default) or `openai` (Bedrock's OpenAI-compatible chat endpoint). */
  api?: 'converse' | 'openai' | undefined;
}

/** One upstream call, as the router hands it to an adapter. */
export interface GatewayCall {
  requestId: string;
  operation: 'chat' | 'embeddings';
  /** The client body in the internal representation. Unknown fields are kept. */
  body: ChatRequest | EmbeddingsRequest;
  /** Whether the client asked for a stream. */
  stream: boolean;
  deployment: DeploymentTarget;
  /**
   * The client's request: aborted when it leaves. An attempt's own deadline is not on it (the
   * executor aborts the upstream request itself, through the transport).
   */
  signal: ClientSignal;
  /** Headers to propagate upstream (W3C trace context). */
  propagateHeaders?: Record<string, string>;
  /**
   * The protocol the client spoke. Unknown client fields pass through only where it is the
   * upstream's own (an OpenAI chat client to an OpenAI-family upstream); a request translated
   * from another protocol is cut down to the upstream's published request shape.
   */
  surface?: SurfaceName | undefined;
}

/** What the transport sends. */
export interface UpstreamRequest {
  method: 'POST' | 'GET';
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** An upstream answer with a non-2xx status, body read as text (truncated to 64 KiB). */
export interface UpstreamErrorResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One decoded frame of an upstream stream.
 * - SSE: `event` is the `event:` field (if any), `data` the joined `data:` lines.
 * - AWS event stream: `event` is `:event-type` (or `:exception-type` when `messageType` is
 *   `exception`/`error`), `data` the UTF-8 payload, `headers` the string headers of the frame.
 */
export interface UpstreamFrame {
  event?: string | undefined;
  data: string;
  messageType?: 'event' | 'exception' | 'error' | undefined;
  headers?: Record<string, string> | undefined;
}

/** One streamed item handed to surfaces. */
export interface StreamItem {
  /** The chunk in the internal representation (parsed lazily for passthrough streams). */
  chunk(): ChatCompletionChunk;
  /** For OpenAI-family upstreams: the event's original `data:` JSON text, forwarded as is on the fast path. */
  raw?: string;
  /** True for the final usage-only chunk (`choices: []`, `usage` set). Surfaces drop it unless asked. */
  usageOnly?: boolean;
  /**
   * Several events of one upstream read, already framed as SSE, forwarded as these bytes. Only
   * the OpenAI chat surface gets such items (the executor relays only for it); `chunk()` is not
   * defined for them and `chunks()` parses their events.
   */
  framed?: Uint8Array;
  /** The events of a `framed` item, parsed. */
  chunks?(): ChatCompletionChunk[];
}

/** Wraps a chunk as a StreamItem (translating adapters). */
export function itemOf(chunk: ChatCompletionChunk): StreamItem {
  const usageOnly = chunk.choices.length === 0 && chunk.usage != null;
  return usageOnly ? { chunk: () => chunk, usageOnly } : { chunk: () => chunk };
}

export interface ProviderAdapter {
  /** Provider id from config. */
  readonly id: string;
  readonly type: ProviderType;
  /** True when the upstream speaks OpenAI Chat Completions: requests are forwarded as bytes with targeted edits. */
  readonly openAIFamily: boolean;
  /** How the upstream frames a stream. */
  readonly streamFormat: 'sse' | 'aws-eventstream';
  /** Per-call override of `streamFormat` (Bedrock deployments with `api: 'openai'` stream SSE). */
  streamFormatFor?(call: GatewayCall): 'sse' | 'aws-eventstream';
  /** Builds (and signs, when needed) the upstream request for a chat or embeddings call. */
  buildRequest(call: GatewayCall): Promise<UpstreamRequest>;
  /** Maps a 2xx JSON chat answer to a ChatCompletion. */
  parseResponse(json: unknown, call: GatewayCall): ChatCompletion;
  /**
   * Maps decoded upstream frames to stream items. Must end with a usage-only chunk when the
   * upstream reports usage. Throws a GatewayError for an in-stream error or exception.
   */
  mapStream(frames: AsyncIterable<UpstreamFrame>, call: GatewayCall): AsyncIterable<StreamItem>;
  /** Classifies a non-2xx answer for the router (code, status, class, retryable, retry delay). */
  classifyError(response: UpstreamErrorResponse, call: GatewayCall): GatewayError;
  /** Maps a 2xx embeddings answer; absent when the provider has no embeddings. */
  parseEmbeddings?(json: unknown, call: GatewayCall): EmbeddingsResponse;
}

/** Dependencies an adapter factory may use. */
export interface AdapterDeps {
  /** Environment for credential discovery (AWS default chain etc.). */
  env: Record<string, string | undefined>;
  now: () => number;
}

/** Creates the adapter for one configured provider. */
export type AdapterFactory = (
  id: string,
  config: ProviderConfig,
  deps: AdapterDeps,
) => ProviderAdapter;
