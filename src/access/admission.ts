import type { Config } from '../config/index.js';
import { costMicros, type ModelPrice, type PriceBook } from '../billing/prices.js';
import { scaledToDecimal } from '../core/money.js';
import type { Usage } from '../core/usage.js';
import { GatewayError, isStoreUnavailable, storeUnavailable } from '../errors/index.js';
import type { AccessLedger } from '../store/index.js';
import type { SpendWriter } from './spend-writer.js';
import type { Admission, AdmissionRequest } from './types.js';
import type { BudgetCounters } from './budgets.js';
import { chargedBuckets, endUserOf } from './buckets.js';
import type { ConcurrencyGate, Slot } from './concurrency.js';
import type { ChatRequest } from '../core/chat.js';
import { choicesOf, type EstimateOptions, estimateTokens, requestedMaxTokens } from './estimate.js';
import { type BudgetPeriod, type Level, limitScope } from './policy.js';
import type { RateKind, RateLimits, RateResult } from './rate-limits.js';
import { merged } from '../core/objects.js';

/** A budget alert: a level's spend crossed its alert threshold in this period. */
export interface BudgetAlert {
  level: Pick<Level, 'kind' | 'id'>;
  /** Which bucket: `key k1`, or a rule's `key k1, models gpt-4o*, user alice`. */
  label: string;
  scope: string;
  periodStart: number;
  percent: number;
  spentMicros: bigint;
  limitMicros: bigint;
}

/** What {@link createAdmitter} needs. */
export interface AdmitterDeps {
  config: Config;
  prices: PriceBook;
  rates: RateLimits;
  gate: ConcurrencyGate;
  budgets: BudgetCounters;
  ledger: AccessLedger;
  /** Writes real spend to the database (group commit). */
  spend: SpendWriter;
  estimate?: EstimateOptions | undefined;
  onAlert?: ((alert: BudgetAlert) => void) | undefined;
}

interface RateCheck {
  kind: RateKind;
  level: Level;
  limit: number;
  points: number;
}

const NO_ADMISSION: Admission = { headers: {}, settle: async () => {} };

/**
 * Admits one request against every level's limits and budget. Order: requests-per-minute,
 * tokens-per-minute and concurrency are checked together; then the worst-case cost is reserved
 * in every budget. A refusal at any step undoes the steps before it.
 */
export function createAdmitter(
  deps: AdmitterDeps,
): (request: AdmissionRequest, levels: Level[]) => Promise<Admission> {
  const { rates, gate, budgets } = deps;

  const minOutput = deps.config.billing.budgetMinOutputTokens;

  /**
   * How a request without a max is clamped: `minimum` is the cost of its input plus
   * `minOutput` tokens per choice (rounded up, as reservations are); `outputFor(granted)` is the
   * most output per choice that `granted` µUSD buys after the input. Output tokens are priced at
   * the dearer of the output and reasoning rates, so the limit is affordable whatever they are.
   */
  function clampTerms(body: ChatRequest, estimate: { inputTokens: number }, price: ModelPrice) {
    if (requestedMaxTokens(body) !== undefined) return undefined;
    const perOutput = price.reasoning > price.output ? price.reasoning : price.output;
    if (perOutput === 0n) return undefined;
    const choices = BigInt(choicesOf(body));
    const inputPicos = BigInt(estimate.inputTokens) * price.input;
    const minimumPicos = inputPicos + BigInt(minOutput) * choices * perOutput;
    return {
      minOutput,
      minimum: (minimumPicos + 999_999n) / 1_000_000n,
      outputFor(granted: bigint): number {
        const room = granted * 1_000_000n - inputPicos;
        return Number(room / perOutput / choices);
      },
    };
  }

  return async function admit(request, levels) {
    const { now, requestId } = request;
    const checks: RateCheck[] = [];
    const slots: Slot[] = [];
    // Which budget buckets this request charges (each level's budget, its matching rules).
    const charged = chargedBuckets(
      levels,
      request.model,
      request.endUser ?? endUserOf(request.body as unknown as Record<string, unknown>),
      now,
    );
    let needTokens = false;
    for (const level of levels) {
      const { limits } = level.policy;
      if (limits.rpm !== undefined)
        checks.push({ kind: 'requests', level, limit: limits.rpm, points: 1 });
      if (limits.tpm !== undefined) {
        checks.push({ kind: 'tokens', level, limit: limits.tpm, points: 0 });
        needTokens = true;
      }
      if (limits.maxConcurrent !== undefined)
        slots.push({ scope: limitScope(level), max: limits.maxConcurrent });
    }
    if (checks.length === 0 && slots.length === 0 && charged.length === 0) return NO_ADMISSION;

    const price: ModelPrice | undefined =
      charged.length > 0 ? deps.prices.at(request.model, now) : undefined;
    let estimate = { inputTokens: 0, outputTokens: 0 };
    if (needTokens || price) {
      const modelMax = deps.config.models[request.model]?.maxOutputTokens;
      estimate = estimateTokens(
        request.body,
        request.operation,
        merged(deps.estimate, {
          modelMaxOutputTokens: modelMax,
        }),
      );
    }
    const tokens = estimate.inputTokens + estimate.outputTokens;
    for (const check of checks) {
      if (check.kind !== 'tokens') continue;
      check.points = tokens;
      if (tokens > check.limit) {
        throw new GatewayError(
          `Request too large for ${describe(check.level)}: about ${tokens} tokens (input and max output), limit ${check.limit} tokens per minute. Lower max_tokens or the input.`,
          {
            code: 'rate_limited',
            status: 429,
            retryable: false,
            failover: false,
          },
        );
      }
    }

    // Step 1: rate limits and concurrency, all levels at once.
    const [results, full] = await unavailable(
      Promise.all([
        Promise.all(
          checks.map((check) =>
            check.points > 0
              ? rates.consume(check.kind, limitScope(check.level), check.limit, check.points)
              : okResult(check.limit),
          ),
        ),
        slots.length > 0 ? gate.acquire(slots, requestId, now) : Promise.resolve(-1),
      ]),
    );
    const refusedAt = results.findIndex((result) => !result.ok);
    const undoRates = () =>
      Promise.all(
        checks.map((check, i) =>
          results[i]!.ok && check.points > 0
            ? rates.adjust(
                check.kind,
                limitScope(check.level),
                check.limit,
                -check.points,
                results[i]!.at,
              )
            : undefined,
        ),
      );
    const scopes = slots.map((slot) => slot.scope);
    if (refusedAt !== -1 || full !== -1) {
      await Promise.all([undoRates(), full === -1 ? gate.release(scopes, requestId) : undefined]);
      if (refusedAt !== -1)
        throw rateError(checks[refusedAt]!, results[refusedAt]!, headersOf(checks, results));
      const slot = slots[full]!;
      const level = levels.find((item) => limitScope(item) === slot.scope)!;
      throw new GatewayError(
        `Too many concurrent requests for ${describe(level)}: the limit is ${slot.max} at once.`,
        {
          code: 'rate_limited',
          status: 429,
          retryAfterMs: 1000,
          failover: false,
          headers: headersOf(checks, results),
        },
      );
    }

    // Step 2: reserve the worst-case cost in every budget.
    let amount = price
      ? costMicros(
          {
            inputTokens: estimate.inputTokens,
            cachedInputTokens: 0,
            outputTokens: estimate.outputTokens,
            reasoningTokens: 0,
          },
          price,
          'up',
        )
      : 0n;
    const buckets = charged.map((item) => item.bucket);
    // A request that sets no max may be clamped: it gets the output the remainder can buy, and is
    // refused only when that is below the input plus a minimum output (docs/access.md).
    const clamp =
      price && request.operation === 'chat' && buckets.some((bucket) => bucket.hard)
        ? clampTerms(request.body as ChatRequest, estimate, price)
        : undefined;
    let maxOutputTokens: number | undefined;
    if (buckets.length > 0) {
      let reserved: Awaited<ReturnType<typeof budgets.reserve>>;
      try {
        reserved = await budgets.reserve(buckets, requestId, amount, now, clamp?.minimum);
      } catch (error) {
        await Promise.all([undoRates(), gate.release(scopes, requestId)]).catch(() => undefined);
        return unavailable(Promise.reject(error));
      }
      if (!reserved.ok) {
        await Promise.all([undoRates(), gate.release(scopes, requestId)]);
        const refused = charged[buckets.indexOf(reserved.bucket)]!;
        const { spent, reserved: held } = reserved.state;
        const need = clamp
          ? `this request needs ${usd(clamp.minimum)} for its input and ${clamp.minOutput} output tokens`
          : `this request may cost up to ${usd(amount)}`;
        throw new GatewayError(
          `Budget exceeded for ${refused.label}: ${usd(spent)} spent and ${usd(held)} reserved of ${usd(reserved.bucket.limit)} per ${periodName(refused.budget.period)}; ${need}.`,
          {
            code: 'budget_exceeded',
            status: 402,
            retryable: false,
            failover: false,
            headers: headersOf(checks, results),
          },
        );
      }
      if (reserved.amount < amount && clamp) {
        maxOutputTokens = clamp.outputFor(reserved.amount);
        amount = reserved.amount;
      }
    }

    let settled = false;
    const headers = headersOf(checks, results);
    if (maxOutputTokens !== undefined)
      headers['x-switchyard-budget-max-tokens'] = String(maxOutputTokens);
    return {
      headers,
      ...(maxOutputTokens !== undefined && { maxOutputTokens }),
      async settle(usage: Usage | undefined) {
        if (settled) return;
        settled = true;
        const realTokens = usage ? usage.inputTokens + usage.outputTokens : 0;
        const work: Array<Promise<unknown>> = [];
        if (slots.length > 0) work.push(gate.release(scopes, requestId));
        // A correction goes back to the instant the estimate was counted (see RateLimits.adjust).
        checks.forEach((check, i) => {
          if (check.kind === 'tokens' && realTokens !== check.points)
            work.push(
              rates.adjust(
                'tokens',
                limitScope(check.level),
                check.limit,
                realTokens - check.points,
                results[i]!.at,
              ),
            );
        });
        if (buckets.length > 0) work.push(settleBudget(usage));
        await Promise.all(work);
      },
    };

    async function settleBudget(usage: Usage | undefined) {
      const real = usage && price ? costMicros(usage, price, 'up') : 0n;
      if (real > 0n)
        await deps.spend.add(
          buckets.map((bucket) => ({
            scope: bucket.scope,
            periodStart: bucket.periodStart,
            amount: real,
          })),
        );
      await budgets.settle(buckets, requestId, amount, real);
      if (real > 0n && deps.onAlert) await alerts(real);
    }

    async function alerts(real: bigint) {
      for (let i = 0; i < buckets.length; i++) {
        const bucket = buckets[i]!;
        const thresholds = alertThresholds(charged[i]!.budget.alertPercent);
        if (thresholds.length === 0 || bucket.limit <= 0n) continue;
        const { spent } = await budgets.state(bucket);
        // Lowest first: a settle that crosses 80% and 100% at once claims (and announces) both.
        for (const percent of thresholds) {
          const threshold = (bucket.limit * BigInt(percent)) / 100n;
          if (spent < threshold || spent - real >= threshold) continue;
          if (await deps.ledger.claimAlert(bucket.scope, bucket.periodStart, percent)) {
            deps.onAlert!({
              level: { kind: charged[i]!.level.kind, id: charged[i]!.level.id },
              label: charged[i]!.label,
              scope: bucket.scope,
              periodStart: bucket.periodStart,
              percent,
              spentMicros: spent,
              limitMicros: bucket.limit,
            });
          }
        }
      }
    }

    /** The budget's own alert percent and the config's `alerts.budgetThresholds`, ascending. */
    function alertThresholds(own: number | undefined): number[] {
      const all = new Set(deps.config.alerts.budgetThresholds);
      if (own !== undefined) all.add(own);
      return [...all].sort((a, b) => a - b);
    }
  };
}

/** A failing limits store (Redis down, database error) answers 503, never a silent pass. */
async function unavailable<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    // Budgets read spend from the store: its outage is named as such (same 503, retry-after).
    if (isStoreUnavailable(error)) throw storeUnavailable(error);
    throw new GatewayError('Limits and budgets are unavailable right now; try again shortly.', {
      code: 'internal_error',
      status: 503,
      errorClass: 'overloaded',
      retryAfterMs: 1000,
      failover: false,
      cause: error,
    });
  }
}

function okResult(limit: number): Promise<RateResult> {
  return Promise.resolve({ ok: true, at: 0, state: { limit, remaining: limit, resetMs: 0 } });
}

/** OpenAI-style x-ratelimit-* headers: for each kind, the level with the least room left. */
function headersOf(checks: RateCheck[], results: RateResult[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const kind of ['requests', 'tokens'] as const) {
    let tightest: RateResult | undefined;
    checks.forEach((check, i) => {
      const result = results[i];
      if (
        check.kind === kind &&
        result &&
        (!tightest || result.state.remaining < tightest.state.remaining)
      )
        tightest = result;
    });
    if (!tightest) continue;
    headers[`x-ratelimit-limit-${kind}`] = String(tightest.state.limit);
    headers[`x-ratelimit-remaining-${kind}`] = String(tightest.state.remaining);
    headers[`x-ratelimit-reset-${kind}`] = duration(tightest.state.resetMs);
  }
  return headers;
}

function rateError(
  check: RateCheck,
  result: RateResult,
  headers: Record<string, string>,
): GatewayError {
  const retryAfterMs = result.ok ? 1000 : result.retryAfterMs;
  const unit = check.kind === 'requests' ? 'requests' : 'tokens';
  return new GatewayError(
    `Rate limit reached for ${describe(check.level)}: ${check.limit} ${unit} per minute. Try again in ${duration(retryAfterMs)}.`,
    {
      code: 'rate_limited',
      status: 429,
      retryAfterMs,
      failover: false,
      headers,
    },
  );
}

/** `1.5s`, `250ms`: the form OpenAI uses in x-ratelimit-reset-*. */
function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}

function describe(level: Level): string {
  return `${level.kind} ${level.id}`;
}

function periodName(period: BudgetPeriod): string {
  return period === 'total' ? 'lifetime' : period;
}

function usd(micros: bigint): string {
  return `$${scaledToDecimal(micros, 6)}`;
}
