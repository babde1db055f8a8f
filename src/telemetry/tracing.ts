import {
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  createTraceState,
  trace,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import type { Config } from '../config/index.js';
import { genAiProviderName, type ServerAddress } from './gen-ai.js';
import type { AttemptScope, GatewayObserver, HttpObserver, RequestScope } from './observer.js';
import {
  formatTraceParent,
  newTraceParent,
  parseTraceParent,
  type TraceParent,
} from './trace-context.js';

/**
 * Traces: a SERVER span per HTTP request (parent: the client's `traceparent`), a `chat {model}`
 * span per gateway call with the OpenTelemetry GenAI attributes (so a Responses request with
 * several agent steps shows one per step), and a CLIENT span per upstream attempt whose context
 * is sent upstream as `traceparent`. Spans are exported over OTLP/HTTP when an endpoint is set.
 * Without one, nothing is recorded, but the client's trace context (or a fresh unsampled one)
 * still reaches the upstreams and the log lines.
 */

/** Options of {@link createTracing}. */
export interface TracingOptions {
  config: Config['telemetry'];
  /** Provider id → provider type, for `gen_ai.provider.name`. */
  providerTypes: ReadonlyMap<string, string>;
  /** Provider id → the upstream's address, for `server.address` / `server.port` on CLIENT spans. */
  providerAddresses?: ReadonlyMap<string, ServerAddress>;
  /** Replaces the OTLP exporter (tests pass an in-memory one); spans are then exported one by one. */
  exporter?: SpanExporter | undefined;
  /** Told when a batch of spans could not be exported (the collector is down or refuses). */
  onExportError?: (error: Error | undefined) => void;
  /** Longest wait for the last spans at shutdown, ms. Default 1000. */
  shutdownTimeoutMs?: number;
  version?: string;
}

/** The tracing hooks and their shutdown. */
export interface Tracing {
  /** True when spans are recorded and exported. */
  enabled: boolean;
  http: HttpObserver;
  observer: GatewayObserver;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

interface RequestTrace {
  parent: TraceParent;
  tracestate: string | undefined;
  /** The upstream headers for this context, built once. */
  headers: Record<string, string>;
}

const NOOP_ATTEMPT: AttemptScope = { headers: undefined, end() {} };

/** Creates the tracing hooks from `telemetry` config. */
export function createTracing(options: TracingOptions): Tracing {
  const requests = new Map<string, RequestTrace>();
  const remember = (requestId: string, parent: TraceParent, tracestate: string | undefined) => {
    const headers: Record<string, string> = { traceparent: formatTraceParent(parent) };
    if (tracestate) headers['tracestate'] = tracestate;
    requests.set(requestId, { parent, tracestate, headers });
  };
  const exporter =
    options.exporter ??
    (options.config.otlpEndpoint
      ? new OTLPTraceExporter({
          url: options.config.otlpEndpoint,
          headers: options.config.otlpHeaders ?? {},
          timeoutMillis: 10_000,
        })
      : undefined);

  if (!exporter) {
    return {
      enabled: false,
      http: {
        requestStart(request, requestId) {
          const client = parseTraceParent(request.headers['traceparent']);
          const parent = client ?? newTraceParent();
          remember(requestId, parent, client ? header(request.headers['tracestate']) : undefined);
          return { traceId: parent.traceId, end: () => void requests.delete(requestId) };
        },
      },
      observer: {
        requestStart(start) {
          return { headers: requests.get(start.requestId)?.headers, firstToken() {}, end() {} };
        },
        attemptStart: () => NOOP_ATTEMPT,
      },
      flush: async () => {},
      shutdown: async () => {},
    };
  }

  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': options.config.serviceName,
      'service.version': options.version ?? '0.1.0',
    }),
    sampler: new ParentBasedSampler({
      root: new TraceIdRatioBasedSampler(options.config.sampleRatio),
    }),
    spanProcessors: [
      options.exporter
        ? new SimpleSpanProcessor(reporting(exporter, options.onExportError))
        : new BatchSpanProcessor(reporting(exporter, options.onExportError), {
            maxQueueSize: 4096,
            scheduledDelayMillis: 2000,
          }),
    ],
  });
  const tracer: Tracer = provider.getTracer('switchyard');
  const contextOf = (parent: TraceParent | undefined, tracestate: string | undefined): Context =>
    parent
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: parent.traceId,
          spanId: parent.spanId,
          traceFlags: parent.flags,
          isRemote: true,
          ...(tracestate ? { traceState: createTraceState(tracestate) } : {}),
        })
      : ROOT_CONTEXT;
  const headersOf = (span: Span, tracestate: string | undefined): Record<string, string> => {
    const context = span.spanContext();
    const headers: Record<string, string> = {
      traceparent: formatTraceParent({
        traceId: context.traceId,
        spanId: context.spanId,
        flags: context.traceFlags,
      }),
    };
    if (tracestate) headers['tracestate'] = tracestate;
    return headers;
  };

  const http: HttpObserver = {
    requestStart(request, requestId) {
      const path = routeOf(request.url);
      // Probes and scrapes arrive every few seconds from every replica: tracing them would bury
      // the requests worth reading (and cost a span each).
      if (UNTRACED_PATHS.has(path)) return undefined;
      const client = parseTraceParent(request.headers['traceparent']);
      const tracestate = client ? header(request.headers['tracestate']) : undefined;
      const span = tracer.startSpan(
        `${request.method ?? 'GET'} ${path}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': request.method ?? 'GET',
            'url.path': path,
            'switchyard.request_id': requestId,
          },
        },
        contextOf(client, tracestate),
      );
      const context = span.spanContext();
      remember(
        requestId,
        { traceId: context.traceId, spanId: context.spanId, flags: context.traceFlags },
        tracestate,
      );
      return {
        traceId: context.traceId,
        end(status) {
          requests.delete(requestId);
          span.setAttribute('http.response.status_code', status);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
    },
  };

  const observer: GatewayObserver = {
    requestStart(start): RequestScope {
      const entry = requests.get(start.requestId);
      const model = start.model ?? '';
      const span = tracer.startSpan(
        `${start.operation} ${model}`.trim(),
        {
          kind: SpanKind.INTERNAL,
          attributes: {
            'gen_ai.operation.name': start.operation,
            'gen_ai.request.model': model,
            'switchyard.request_id': start.requestId,
            'switchyard.surface': start.surface,
            'switchyard.stream': start.stream,
          },
        },
        contextOf(entry?.parent, entry?.tracestate),
      );
      return {
        headers: headersOf(span, entry?.tracestate),
        firstToken(ms) {
          span.setAttribute('switchyard.time_to_first_token_ms', ms);
        },
        end(event) {
          span.setAttributes({
            'gen_ai.response.model': event.upstreamModel ?? '',
            'gen_ai.provider.name': genAiProviderName(
              event.deployment === null ? undefined : options.providerTypes.get(event.deployment),
            ),
            'gen_ai.usage.input_tokens': event.inputTokens,
            'gen_ai.usage.output_tokens': event.outputTokens,
            'switchyard.model': event.model ?? '',
            'switchyard.deployment': event.deployment ?? '',
            'switchyard.partner': event.partner ?? '',
            'switchyard.tenant_id': event.tenantId,
            'switchyard.attempts': event.attempts,
            'switchyard.status': event.status,
            'http.response.status_code': event.httpStatus,
          });
          if (event.cachedInputTokens > 0)
            span.setAttribute('gen_ai.usage.cache_read.input_tokens', event.cachedInputTokens);
          if (event.status === 'error') {
            span.setAttribute('error.type', event.errorCode ?? 'error');
            span.setStatus({ code: SpanStatusCode.ERROR, message: event.errorCode ?? undefined });
          }
          span.end();
        },
      };
    },
    attemptStart(start) {
      const parent = parseTraceParent(start.propagateHeaders?.['traceparent']);
      const tracestate = start.propagateHeaders?.['tracestate'];
      const server = options.providerAddresses?.get(start.deployment);
      const span = tracer.startSpan(
        `${start.operation} ${start.upstreamModel}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'gen_ai.operation.name': start.operation,
            'gen_ai.provider.name': genAiProviderName(start.providerType),
            'gen_ai.request.model': start.upstreamModel,
            ...(server && { 'server.address': server.address, 'server.port': server.port }),
            'switchyard.deployment': start.deployment,
            'switchyard.partner': start.partner ?? '',
          },
        },
        contextOf(parent, tracestate),
      );
      return {
        headers: headersOf(span, tracestate),
        end(outcome) {
          if (outcome.status !== null)
            span.setAttribute('http.response.status_code', outcome.status);
          if (outcome.errorClass !== null) {
            span.setAttribute('error.type', outcome.code ?? outcome.errorClass);
            span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.errorClass });
          }
          span.end();
        },
      };
    },
  };

  return {
    enabled: true,
    http,
    observer,
    flush: () => provider.forceFlush(),
    // A dead collector must not hold the process at shutdown: the last spans get a bounded wait.
    shutdown: () => bounded(provider.shutdown(), options.shutdownTimeoutMs ?? 1000),
  };
}

/** An exporter that reports failed exports (the OTLP exporter itself says nothing). */
function reporting(
  exporter: SpanExporter,
  onError: ((error: Error | undefined) => void) | undefined,
): SpanExporter {
  if (!onError) return exporter;
  return {
    export(spans, done) {
      exporter.export(spans, (result) => {
        // ExportResultCode.SUCCESS (@opentelemetry/core) is 0.
        if (result.code !== 0) onError(result.error);
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    ...(exporter.forceFlush && { forceFlush: () => exporter.forceFlush!() }),
  };
}

/** Resolves when `work` does or after `ms`, whichever comes first; never rejects. */
async function bounded(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

/** Health checks and the metrics scrape: never traced. */
const UNTRACED_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

function header(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value.join(',') : value;
  return text && text.length <= 512 ? text : undefined;
}

/** The path with id-like segments replaced, for a span name of bounded cardinality. */
function routeOf(url: string | undefined): string {
  const path = (url ?? '/').split('?', 1)[0] ?? '/';
  return path.replace(/\/[^/]*\d[^/]*(?=\/|$)/g, (segment) =>
    segment.length > 9 ? '/{id}' : segment,
  );
}
