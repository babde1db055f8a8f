import { Gauge, type Registry } from 'prom-client';
import type { UsageEvent } from '../store/index.js';
import { genAiProviderName } from './gen-ai.js';
import type { Pricer } from './money.js';
import type { CounterChild, HistogramChild } from './fast-metrics.js';
import type { RequestFamilies } from './metric-families.js';
import type { AttemptEnd, AttemptStart, GatewayObserver, RequestStart } from './observer.js';
import { merged } from '../core/objects.js';

/**
 * The observer that feeds the request path's metric families: it runs for every request and
 * every upstream attempt, so it updates children bound once per label set.
 */

/** What the observer needs to know about the deployments and the configured models. */
export interface ObserverOptions {
  /** Provider id → provider type, for `gen_ai_provider_name`. */
  providerTypes: ReadonlyMap<string, string>;
  pricer: Pricer;
  /**
   * The model names of the configuration. A `model` label takes only these values: any other
   * name a client sends is counted as `unknown`, so clients cannot grow /metrics without bound.
   */
  models: ReadonlySet<string>;
}

/** The label of a model name that is not in the configuration. */
export const UNKNOWN_LABEL = 'unknown';
/** Distinct upstream response-model names kept as label values before the rest become `other`. */
const MAX_RESPONSE_MODELS = 64;

/** Children pre-bound to one label set, so the request path does no label hashing. */
interface Bound {
  requests: CounterChild;
  duration: HistogramChild;
  ttft: HistogramChild;
  input: CounterChild;
  output: CounterChild;
  cached: CounterChild;
  reasoning: CounterChild;
  revenue: CounterChild;
  cost: CounterChild;
  genAiDuration: HistogramChild;
  genAiInput: HistogramChild;
  genAiOutput: HistogramChild;
}

/** Creates the observer over `families`, and the in-flight gauge that reads its count. */
export function createMetricsObserver(
  families: RequestFamilies,
  options: ObserverOptions,
  registers: Registry[],
): GatewayObserver {
  const {
    requests,
    errors,
    duration,
    ttft,
    tokens,
    revenue,
    cost,
    rejections,
    attempts,
    attemptDuration,
    genAiDuration,
    genAiTokens,
  } = families;
  let active = 0;
  new Gauge({
    name: 'switchyard_requests_in_flight',
    help: 'Requests inside the gateway core now.',
    registers,
    collect() {
      this.set(active);
    },
  });

  // Label values come from the configuration only (model names, deployments, partners); what an
  // upstream reports as its model is kept for the first MAX_RESPONSE_MODELS names, then `other`.
  const modelLabel = (name: string): string => (options.models.has(name) ? name : UNKNOWN_LABEL);
  const responseModels = new Set<string>();
  const responseModelLabel = (name: string | null): string => {
    if (name === null || name === '') return '';
    if (responseModels.has(name)) return name;
    if (responseModels.size >= MAX_RESPONSE_MODELS) return 'other';
    responseModels.add(name);
    return name;
  };
  const bound = new Map<string, Bound>();
  const bind = (
    surface: string,
    model: string,
    deployment: string,
    partner: string,
    providerName: string,
    responseModel: string,
  ): Bound => {
    const base = { surface, model, deployment, partner };
    const genAi = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: providerName,
      gen_ai_request_model: model,
      gen_ai_response_model: responseModel,
    };
    return {
      requests: requests.bind(merged(base, { status: 'ok' })),
      duration: duration.bind(merged(base, { status: 'ok' })),
      ttft: ttft.bind(base),
      input: tokens.bind(merged(base, { type: 'input' })),
      output: tokens.bind(merged(base, { type: 'output' })),
      cached: tokens.bind(merged(base, { type: 'cached_input' })),
      reasoning: tokens.bind(merged(base, { type: 'reasoning' })),
      revenue: revenue.bind(base),
      cost: cost.bind(base),
      genAiDuration: genAiDuration.bind(merged(genAi, { error_type: '' })),
      genAiInput: genAiTokens.bind(merged(genAi, { gen_ai_token_type: 'input' })),
      genAiOutput: genAiTokens.bind(merged(genAi, { gen_ai_token_type: 'output' })),
    };
  };
  const attemptChildren = new Map<string, { ok: CounterChild; duration: HistogramChild }>();

  const end = (start: RequestStart, event: UsageEvent) => {
    active -= 1;
    if (start.internal) return; // the runtime's response-level request is metered, not each step twice
    const model = modelLabel(event.model ?? event.modelRequested ?? '');
    const responseModel = responseModelLabel(event.upstreamModel);
    const deployment = event.deployment ?? '';
    const partner = event.partner ?? '';
    const seconds = event.latencyMs / 1000;
    if (event.status !== 'ok') {
      const labels = { surface: event.surface, model, deployment, partner };
      requests.bind(merged(labels, { status: event.status })).value += 1;
      duration.bind(merged(labels, { status: event.status })).observe(seconds);
      if (event.status === 'error') {
        const code = event.errorCode ?? 'unknown';
        const errorClass = event.attemptLog.at(-1)?.errorClass ?? classOf(code);
        errors.inc(merged(labels, { error_code: code, error_class: errorClass }));
        if (code === 'rate_limited' || code === 'budget_exceeded')
          rejections.inc({ surface: event.surface, reason: code });
        if (deployment !== '')
          genAiDuration
            .bind({
              gen_ai_operation_name: start.operation,
              gen_ai_provider_name: genAiProviderName(options.providerTypes.get(deployment)),
              gen_ai_request_model: model,
              gen_ai_response_model: responseModel,
              error_type: code,
            })
            .observe(seconds);
      }
      return;
    }
    const key = `${event.surface}\u0001${model}\u0001${deployment}\u0001${partner}\u0001${responseModel}`;
    let children = bound.get(key);
    if (!children)
      bound.set(
        key,
        (children = bind(
          event.surface,
          model,
          deployment,
          partner,
          genAiProviderName(options.providerTypes.get(deployment)),
          responseModel,
        )),
      );
    children.requests.value += 1;
    children.duration.observe(seconds);
    children.genAiDuration.observe(seconds);
    if (event.stream && event.ttfbMs !== null) children.ttft.observe(event.ttfbMs / 1000);
    if (event.inputTokens > 0) {
      children.input.value += event.inputTokens;
      children.genAiInput.observe(event.inputTokens);
    }
    if (event.outputTokens > 0) {
      children.output.value += event.outputTokens;
      children.genAiOutput.observe(event.outputTokens);
    }
    if (event.cachedInputTokens > 0) children.cached.value += event.cachedInputTokens;
    if (event.reasoningTokens > 0) children.reasoning.value += event.reasoningTokens;
    const amounts = options.pricer.price(event);
    if (amounts.revenueUsd > 0) children.revenue.value += amounts.revenueUsd;
    if (amounts.costUsd > 0) children.cost.value += amounts.costUsd;
  };

  const noop = () => {};
  const observer: GatewayObserver = {
    requestStart(start) {
      active += 1;
      return { headers: undefined, firstToken: noop, end: (event) => end(start, event) };
    },
    attemptStart(start: AttemptStart) {
      return {
        headers: undefined,
        end(outcome: AttemptEnd) {
          const partner = start.partner ?? '';
          if (outcome.errorClass !== null) {
            attempts.bind({
              deployment: start.deployment,
              partner,
              // The request's own failures (invalid, the client left) are not the deployment's errors.
              outcome: CLIENT_CAUSED.has(outcome.errorClass) ? 'client_error' : 'error',
              error_class: outcome.errorClass,
            }).value += 1;
            attemptDuration
              .bind({ deployment: start.deployment, partner })
              .observe(outcome.ms / 1000);
            return;
          }
          const key = `${start.deployment}\u0001${partner}`;
          let children = attemptChildren.get(key);
          if (!children)
            attemptChildren.set(
              key,
              (children = {
                ok: attempts.bind({
                  deployment: start.deployment,
                  partner,
                  outcome: 'ok',
                  error_class: '',
                }),
                duration: attemptDuration.bind({ deployment: start.deployment, partner }),
              }),
            );
          children.ok.value += 1;
          children.duration.observe(outcome.ms / 1000);
        },
      };
    },
  };

  return observer;
}

/** Attempt error classes caused by the request or its client, not by the deployment. */
const CLIENT_CAUSED = new Set([
  'invalid_request',
  'context_overflow',
  'content_policy',
  'client_closed',
]);

function classOf(code: string): string {
  if (code === 'rate_limited' || code === 'budget_exceeded') return 'rate_limited';
  if (code === 'unauthorized' || code === 'forbidden') return 'auth';
  if (code === 'model_not_found' || code === 'not_found') return 'not_found';
  if (code.startsWith('upstream_') || code === 'no_deployment_available') return 'upstream';
  return 'invalid_request';
}
