import type { RoutingConfig } from '../config/index.js';
import type { ChatCompletion, ChatUsage, EmbeddingsResponse } from '../core/chat.js';
import type { Clock } from '../core/clock.js';
import { GatewayError, toGatewayError } from '../errors/index.js';
import type {
  GatewayCall,
  ProviderAdapter,
  StreamItem,
  UpstreamFrame,
} from '../providers/index.js';
import type { AttemptScope, GatewayObserver } from '../telemetry/observer.js';
import type { Transport, UpstreamResponse } from '../transport/http.js';
import type { CatalogModel, Deployment } from './catalog.js';
import { isReservedSpill, type ReservedCapacity } from './commitments.js';
import type { HealthTracker } from './health.js';
import type { Skip } from './licence-scope.js';
import type { PlanInput, Policy } from './policy.js';
import type { ValueSpan } from '../core/json-scan.js';
import { ForwardedExecution, forwardedCompletion } from './fast-completion.js';
import { watchStream } from './stream-watch.js';
import {
  abortError,
  buildFailed,
  buildRequest,
  isRequestSide,
  midStreamError,
  nothingMayServe,
  parseJson,
} from './attempt-errors.js';
import { isReadable } from 'node:stream';
import { relaySse } from '../providers/openai/relay.js';
import { type RelayedStream, relayItems } from './relay-items.js';
import { abortSignalOf, AttemptAbort, onAbort } from '../transport/abort.js';
import { merged } from '../core/objects.js';

/** One try against one deployment, as recorded in the usage event. */
export interface AttemptRecord {
  deployment: string;
  upstreamModel: string;
  /** The deployment's partner, so a failed request is still attributed to the cloud it tried. */
  partner: string | null;
  /** Upstream HTTP status, or null when no answer came (connection error, timeout). */
  status: number | null;
  errorClass: string | null;
  code: string | null;
  ms: number;
}

/** Decodes an upstream body into frames, per stream format. */
export type FrameDecoder = (body: AsyncIterable<Uint8Array>) => AsyncIterable<UpstreamFrame>;

export interface ExecutorDeps {
  adapters: Map<string, ProviderAdapter>;
  transport: Transport;
  health: HealthTracker;
  policy: Policy;
  routing: RoutingConfig;
  clock: Clock;
  decoders: Partial<Record<'sse' | 'aws-eventstream', FrameDecoder>>;
  /** Waits, unless aborted (tests inject a fast one). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  /** Telemetry: told when each attempt starts and ends; may replace the propagated trace headers. */
  observer?: Pick<GatewayObserver, 'attemptStart'>;
  /** Reserved capacity (`reservedTpm`): its tokens-per-minute windows and 429 spill-over. */
  capacity?: ReservedCapacity | undefined;
}

/** What the request adds to its plan: a rule's strategy, its expected tokens, a place for the figures. */
export type PlanHints = Pick<
  PlanInput,
  'strategy' | 'estimate' | 'figures' | 'api' | 'regions' | 'skipped'
>;

/** A call to execute; the executor adds the deployment. */
export type ExecutionCall = Omit<GatewayCall, 'deployment'>;

/** The outcome of a successful execution. */
export type Execution =
  | {
      kind: 'json';
      deployment: Deployment;
      /** The answer in the internal representation (on the fast path, parsed when first read). */
      completion: ChatCompletion;
      /** The upstream's bytes, as text. */
      rawBody: string;
      /** The answer's `usage`, read without parsing the rest on the fast path. */
      usage: ChatUsage | null | undefined;
      /** Where `usage` lies in `rawBody` (fast path only): `usage.cost` is added there in place. */
      usageSpan?: ValueSpan | undefined;
    }
  | { kind: 'embeddings'; deployment: Deployment; response: EmbeddingsResponse }
  | {
      kind: 'stream';
      deployment: Deployment;
      /** Items, the first one already received from the upstream (so failover was still possible for it). */
      items: AsyncIterable<StreamItem>;
      /**
       * Stops reading the upstream (closes its body). Once the first item is in hand the client's
       * signal no longer does this by itself: the gateway keeps reading a cut stream to its end,
       * for the upstream's usage, and calls this when its drain time is up.
       */
      cancel(reason?: unknown): void;
    };

/** Longest server-given delay we wait for before failing over or giving up, ms. */
const MAX_HONOURED_DELAY_MS = 10_000;

/**
 * Tries a model's deployments in policy order. Retries and failover happen only before the first
 * byte of the answer is handed back; each attempt has its own timeout, all attempts share the
 * total deadline. Every attempt is appended to `attempts`.
 */
export function createExecutor(deps: ExecutorDeps) {
  const sleep = deps.sleep ?? abortableSleep;
  const random = deps.random ?? Math.random;

  async function execute(
    model: CatalogModel,
    call: ExecutionCall,
    attempts: AttemptRecord[],
    hints?: PlanHints,
  ): Promise<Execution> {
    const started = deps.clock();
    const deadline = started + deps.routing.totalTimeoutMs;
    const skipped: Skip[] = [];
    const plan = deps.policy.plan(merged(hints, { model, now: started, skipped }));
    hints?.skipped?.push(...skipped);
    if (plan.length === 0) throw nothingMayServe(model, hints, skipped);
    const maxAttempts = 1 + deps.routing.retries;
    const failed = new Set<string>();
    let lastError: GatewayError | undefined;
    let lastKey: string | undefined;
    let cursor = 0;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const candidates = plan.filter((deployment) => !failed.has(deployment.key));
      if (candidates.length === 0) break;
      let deployment = candidates[cursor % candidates.length]!;
      // A half-open breaker lets one trial through; others skip to the next deployment.
      // When every deployment is held out, the chosen one is tried anyway rather than refusing.
      if (!deps.health.acquire(deployment.key)) {
        const free = candidates.find(
          (candidate) => candidate !== deployment && deps.health.acquire(candidate.key),
        );
        if (free) deployment = free;
      }
      if (lastError && deployment.key === lastKey) {
        // Retrying the same deployment: honour the server's delay, else jittered backoff.
        const delay =
          lastError.retryAfterMs ??
          Math.min(500 * 2 ** (attempt - 1), 8_000) * (1 - random() * 0.25);
        if (delay > MAX_HONOURED_DELAY_MS || deps.clock() + delay >= deadline) break;
        await sleep(delay, abortSignalOf(call.signal));
      }
      if (call.signal.aborted) throw abortError(call.signal);
      // Reserved capacity whose minute is used up spills at once to the next deployment: no
      // upstream call, no attempt spent. The last candidate is tried anyway (its upstream judges).
      if (
        deps.capacity &&
        deployment.config.reservedTpm !== undefined &&
        !(await deps.capacity.take(deployment, call)) &&
        candidates.length > 1
      ) {
        failed.add(deployment.key);
        attempt -= 1;
        continue;
      }
      const attemptStart = deps.clock();
      if (attemptStart >= deadline) break;
      lastKey = deployment.key;
      const observed = deps.observer?.attemptStart({
        requestId: call.requestId,
        operation: call.operation,
        deployment: deployment.provider,
        providerType: deployment.providerConfig.type,
        partner: deployment.partner,
        upstreamModel: deployment.upstreamModel,
        propagateHeaders: call.propagateHeaders,
      });
      try {
        const attemptCall = observed?.headers
          ? merged(call, { propagateHeaders: observed.headers })
          : call;
        return await attemptOnce(
          deployment,
          attemptCall,
          Math.min(deps.routing.attemptTimeoutMs, deadline - attemptStart),
          attemptStart,
          attempts,
          observed,
        );
      } catch (thrown) {
        const error = toGatewayError(thrown);
        lastError = error;
        const upstreamStatus = (error as { upstreamStatus?: number }).upstreamStatus;
        const record: AttemptRecord = {
          deployment: deployment.provider,
          upstreamModel: deployment.upstreamModel,
          partner: deployment.partner,
          status: upstreamStatus ?? null,
          errorClass: error.errorClass,
          code: error.code,
          ms: deps.clock() - attemptStart,
        };
        attempts.push(record);
        observed?.end(record);
        if (call.signal.aborted) throw abortError(call.signal);
        // A request that could not even be built (invalid, cannot be serialised) says nothing
        // about the deployment: no breaker, and no other deployment would fare better.
        if (isRequestSide(error)) throw error;
        // A 429 from reserved capacity is expected spill-over, not a failure of the deployment:
        // no breaker, and on to pay-as-you-go at once (no retry delay, no attempt spent).
        if (isReservedSpill(deployment, upstreamStatus, error.code)) {
          deps.capacity?.exhausted(deployment.key, deps.clock() + (error.retryAfterMs ?? 1_000));
          if (candidates.length > 1) {
            failed.add(deployment.key);
            attempt -= 1;
            continue;
          }
        } else if (!buildFailed(error)) deps.health.recordFailure(deployment.key, error);
        if (!error.failover && !error.retryable) throw error;
        if (!error.retryable)
          failed.add(deployment.key); // the same index now points at the next one
        else if (error.failover) cursor += 1; // retryable anywhere: move on while others remain
        // retryable but not failover: stay on this deployment
      }
    }
    throw (
      lastError ??
      new GatewayError(`Model "${model.name}" could not be served`, {
        code: 'no_deployment_available',
        status: 503,
        errorClass: 'overloaded',
      })
    );
  }

  async function attemptOnce(
    deployment: Deployment,
    base: ExecutionCall,
    timeoutMs: number,
    start: number,
    attempts: AttemptRecord[],
    observed?: AttemptScope,
  ): Promise<Execution> {
    const adapter = deps.adapters.get(deployment.provider);
    if (!adapter)
      throw new GatewayError(`No adapter for provider ${deployment.provider}`, {
        code: 'internal_error',
        status: 500,
        errorClass: 'internal',
      });
    const controller = new AttemptAbort();
    const unlisten = onAbort(base.signal, () => controller.abort(base.signal.reason));
    // The error is built only if the timer fires: constructing an Error captures a stack trace
    // (~6 µs of CPU), which was spent and thrown away on every successful attempt.
    const timer = setTimeout(
      () =>
        controller.abort(
          new GatewayError(
            `Deployment ${deployment.provider} did not answer within ${timeoutMs} ms`,
            { code: 'upstream_timeout', status: 504, errorClass: 'timeout' },
          ),
        ),
      Math.max(1, timeoutMs),
    );
    const release = () => {
      clearTimeout(timer);
      unlisten();
    };
    const call: GatewayCall = merged(base, {
      deployment: {
        provider: deployment.provider,
        model: deployment.upstreamModel,
        api: deployment.api,
      },
    });
    let response: UpstreamResponse | undefined;
    let watchStop: (() => void) | undefined;
    try {
      const upstream = await buildRequest(adapter, call, deployment);
      response = await deps.transport.send(upstream, controller, deployment.provider);
      if (response.status < 200 || response.status >= 300) {
        const body = await response.text(64 * 1024);
        throw adapter.classifyError(
          { status: response.status, headers: response.headers, body },
          call,
        );
      }
      if (call.operation === 'embeddings' || !call.stream) {
        const text = await response.text(256 * 1024 * 1024);
        // Same protocol on both sides: the bytes are forwarded, so only `usage` is read.
        const forwarded =
          call.operation === 'chat' && adapter.openAIFamily && call.surface === 'openai-chat'
            ? forwardedCompletion(text, (json) => adapter.parseResponse(json, call))
            : undefined;
        if (forwarded) {
          const ttfb = deps.clock() - start;
          release();
          deps.health.recordSuccess(deployment.key, { ttfbMs: ttfb, latencyMs: ttfb });
          attempts.push(success(deployment, response.status, ttfb, observed));
          return new ForwardedExecution(deployment, forwarded, text);
        }
        const json = parseJson(text, deployment.provider);
        const ttfb = deps.clock() - start;
        release();
        deps.health.recordSuccess(deployment.key, { ttfbMs: ttfb, latencyMs: ttfb });
        attempts.push(success(deployment, response.status, ttfb, observed));
        if (call.operation === 'embeddings') {
          if (!adapter.parseEmbeddings)
            throw new GatewayError(`Provider ${deployment.provider} has no embeddings`, {
              code: 'invalid_request',
              status: 400,
              retryable: false,
              failover: true,
            });
          return { kind: 'embeddings', deployment, response: adapter.parseEmbeddings(json, call) };
        }
        const completion = adapter.parseResponse(json, call);
        return { kind: 'json', deployment, completion, rawBody: text, usage: completion.usage };
      }
      const format = adapter.streamFormatFor?.(call) ?? adapter.streamFormat;
      const decode = deps.decoders[format];
      if (!decode)
        throw new GatewayError(`No decoder for ${format} streams`, {
          code: 'internal_error',
          status: 500,
          errorClass: 'internal',
        });
      const watch = watchStream({
        provider: deployment.provider,
        idleMs: deployment.streamIdleTimeoutMs,
        totalMs: deployment.streamTimeoutMs,
        startedAt: Date.now() - (deps.clock() - start),
        abort: (error) => controller.abort(error),
      });
      watchStop = watch.stop;
      const upstreamBody = response.body;
      // The watch stamps each upstream read, not each decoded event: one step per read. An
      // OpenAI chat client in front of an OpenAI-family upstream gets the reads relayed as bytes.
      const iterator = (
        call.surface === 'openai-chat' && adapter.openAIFamily && format === 'sse'
          ? relaySse(watch.frames(upstreamBody), deployment.provider, () => bodyEnded(upstreamBody))
          : adapter.mapStream(decode(watch.frames(upstreamBody)), call)
      )[Symbol.asyncIterator]();
      const first = await iterator.next();
      // A 200 that ends without a single event (an HTML page, a JSON body, a bare [DONE]) is a bad answer; nothing is flushed yet, so fail over.
      if (first.done)
        throw new GatewayError(
          `Upstream ${deployment.provider} ended its stream without any event`,
          { code: 'upstream_bad_response', status: 502, errorClass: 'bad_response' },
        );
      // The first item is in hand: from here on the answer belongs to this deployment, and the
      // stream's own deadlines (silence, total length) replace the attempt's, and the stream's
      // reader decides when to stop it (cancel), so a client that leaves does not cut the
      // upstream before its usage arrives.
      clearTimeout(timer);
      watch.start();
      unlisten();
      const ttfb = deps.clock() - start;
      deps.health.recordSuccess(deployment.key, { ttfbMs: ttfb });
      attempts.push(success(deployment, response.status, ttfb, observed));
      const stream: RelayedStream = {
        first: first.value,
        iterator,
        watch,
        deployment,
        health: deps.health,
        clock: deps.clock,
        start,
        release,
        body: response.body,
        controller,
        signal: base.signal,
        cancelled: false,
      };
      const items = relayItems(stream);
      return {
        kind: 'stream',
        deployment,
        items,
        cancel: (reason?: unknown) => {
          stream.cancelled = true;
          controller.abort(reason ?? abortError(base.signal));
        },
      };
    } catch (error) {
      release();
      watchStop?.();
      response?.body.destroy();
      if (error instanceof GatewayError) throw error;
      if (controller.aborted && controller.reason instanceof GatewayError) throw controller.reason;
      throw midStreamError(deployment, error);
    }
  }

  function success(
    deployment: Deployment,
    status: number,
    ms: number,
    observed: AttemptScope | undefined,
  ): AttemptRecord {
    const record: AttemptRecord = {
      deployment: deployment.provider,
      upstreamModel: deployment.upstreamModel,
      partner: deployment.partner,
      status,
      errorClass: null,
      code: null,
      ms,
    };
    observed?.end(record);
    return record;
  }

  return { execute };
}

export type Executor = ReturnType<typeof createExecutor>;

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * True when an upstream body already holds its end (received, not yet read): reading on then
 * finishes it by itself. Bodies that are not Node streams (test doubles) are never known to.
 */
function bodyEnded(body: UpstreamResponse['body']): boolean {
  return isReadable(body as unknown as NodeJS.ReadableStream) === false;
}
