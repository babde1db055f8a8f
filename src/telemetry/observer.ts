import type { UsageEvent } from '../store/index.js';
import { merged } from '../core/objects.js';

/**
 * The hooks through which the gateway core and the executor report to telemetry. They are
 * called on the hot path: implementations do constant work and never throw or await.
 */

/** A request entering the gateway core. */
export interface RequestStart {
  requestId: string;
  surface: string;
  operation: 'chat' | 'embeddings';
  /** Model name as the client sent it. */
  model: string | null;
  stream: boolean;
  /** Epoch ms. */
  started: number;
  /** True for calls made by the runtime on behalf of a response (agent steps). */
  internal: boolean;
  /** The client body (for the optional debug body store; never read on the default path). */
  body?: unknown;
}

/** One upstream attempt about to be made. */
export interface AttemptStart {
  requestId: string;
  operation: 'chat' | 'embeddings';
  /** Provider id of the deployment. */
  deployment: string;
  /** Provider type (`azure-openai`, `bedrock`, ...). */
  providerType: string;
  partner: string | null;
  upstreamModel: string;
  /** Headers the gateway meant to send upstream (W3C trace context of the request). */
  propagateHeaders: Record<string, string> | undefined;
}

/** How an attempt ended. */
export interface AttemptEnd {
  /** Upstream HTTP status, or null when none came. */
  status: number | null;
  errorClass: string | null;
  code: string | null;
  ms: number;
}

/** Per-attempt handle returned by {@link GatewayObserver.attemptStart}. */
export interface AttemptScope {
  /** Headers to send upstream for this attempt (traceparent naming the attempt span). */
  headers: Record<string, string> | undefined;
  end(outcome: AttemptEnd): void;
}

/** Per-request handle returned by {@link GatewayObserver.requestStart}. */
export interface RequestScope {
  /** Headers to send upstream (W3C trace context); undefined when nothing is propagated. */
  headers: Record<string, string> | undefined;
  /** The first item of a streamed answer reached the client, `ms` after the request started. */
  firstToken(ms: number): void;
  /**
   * The request is over; `event` is its usage record (written or not), `response` the JSON
   * answer when there was one, or a function returning it (the chat fast path parses an answer
   * only if an observer calls it).
   */
  end(event: UsageEvent, response?: unknown): void;
}

/** What the gateway and the executor tell telemetry. */
export interface GatewayObserver {
  requestStart(start: RequestStart): RequestScope;
  attemptStart(start: AttemptStart): AttemptScope;
}

const NOOP_ATTEMPT: AttemptScope = { headers: undefined, end() {} };

/** The scopes of one request across the combined observers (one object per request, no closures). */
class CombinedRequestScope implements RequestScope {
  constructor(
    private readonly scopes: RequestScope[],
    readonly headers: Record<string, string> | undefined,
  ) {}

  firstToken(ms: number): void {
    for (let index = 0; index < this.scopes.length; index++) this.scopes[index]!.firstToken(ms);
  }

  end(event: UsageEvent, response?: unknown): void {
    for (let index = 0; index < this.scopes.length; index++)
      this.scopes[index]!.end(event, response);
  }
}

/** The scopes of one attempt across the combined observers. */
class CombinedAttemptScope implements AttemptScope {
  constructor(
    private readonly scopes: AttemptScope[],
    readonly headers: Record<string, string> | undefined,
  ) {}

  end(outcome: AttemptEnd): void {
    for (let index = 0; index < this.scopes.length; index++) this.scopes[index]!.end(outcome);
  }
}

/** Combines observers; each hook calls every one, and headers of later observers win. */
export function combineObservers(observers: GatewayObserver[]): GatewayObserver {
  if (observers.length === 1) return observers[0]!;
  const count = observers.length;
  // Plain loops over arrays and one scope object per request: this runs for every request.
  return {
    requestStart(start) {
      const scopes: RequestScope[] = new Array(count);
      let headers: Record<string, string> | undefined;
      for (let index = 0; index < count; index++) {
        const scope = observers[index]!.requestStart(start);
        scopes[index] = scope;
        if (scope.headers) headers = headers ? merged(headers, scope.headers) : scope.headers;
      }
      return new CombinedRequestScope(scopes, headers);
    },
    attemptStart(start) {
      if (count === 0) return NOOP_ATTEMPT;
      const scopes: AttemptScope[] = new Array(count);
      let headers: Record<string, string> | undefined;
      for (let index = 0; index < count; index++) {
        const scope = observers[index]!.attemptStart(start);
        scopes[index] = scope;
        if (scope.headers) headers = headers ? merged(headers, scope.headers) : scope.headers;
      }
      return new CombinedAttemptScope(scopes, headers);
    },
  };
}

/** Per-HTTP-request handle returned by {@link HttpObserver.requestStart}. */
export interface HttpRequestScope {
  /** Trace id for the request's log line. */
  traceId: string | undefined;
  /** The response closed with `status`. */
  end(status: number): void;
  /** Fields for the request's log line (model, deployment, partner, attempts, error code). */
  logFields?(): Record<string, unknown> | undefined;
}

/** What the HTTP server tells telemetry (W3C trace context of each request, for logs and spans). */
export interface HttpObserver {
  requestStart(
    request: {
      method?: string | undefined;
      url?: string | undefined;
      headers: Record<string, string | string[] | undefined>;
    },
    requestId: string,
  ): HttpRequestScope | undefined;
}

/** Combines HTTP observers: the first trace id wins, every scope ends, log fields merge. */
export function combineHttpObservers(observers: HttpObserver[]): HttpObserver {
  if (observers.length === 1) return observers[0]!;
  return {
    requestStart(request, requestId) {
      const scopes: HttpRequestScope[] = [];
      for (const observer of observers) {
        const scope = observer.requestStart(request, requestId);
        if (scope) scopes.push(scope);
      }
      if (scopes.length === 0) return undefined;
      return {
        traceId: scopes.find((scope) => scope.traceId !== undefined)?.traceId,
        end(status) {
          for (const scope of scopes) scope.end(status);
        },
        logFields() {
          let fields: Record<string, unknown> | undefined;
          for (const scope of scopes) {
            const more = scope.logFields?.();
            if (more) fields = fields ? merged(fields, more) : more;
          }
          return fields;
        },
      };
    },
  };
}
