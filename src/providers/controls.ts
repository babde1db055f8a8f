/**
 * The request controls OpenAI's chat and Responses APIs share (prompt caching, service tier,
 * safety identifier) and what each provider type does with them: forward, translate, or drop
 * with an `x-switchyard-warnings` header (gateway/route-headers.ts). One table, read by the
 * request builders (what they send) and by the gateway (what it says it dropped), so the two
 * cannot disagree. docs/api.md's fidelity table lists the same decisions.
 */

/** A control the deployment cannot honour: left out of the upstream request, said in a header. */
export interface DroppedControl {
  /** The request field (`service_tier`). */
  field: string;
  /** Why, for the warning header. */
  reason: string;
}

/** The fields this module decides on. */
export const CONTROL_FIELDS = [
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
  'service_tier',
  'safety_identifier',
] as const;

/** OpenAI `service_tier` → Bedrock `serviceTier.type` (Smithy `ServiceTierType`). */
export const BEDROCK_SERVICE_TIERS: Readonly<Record<string, string>> = {
  default: 'default',
  flex: 'flex',
  priority: 'priority',
};

/** OpenAI `service_tier` → Anthropic `service_tier` (`auto` | `standard_only`). */
export const ANTHROPIC_SERVICE_TIERS: Readonly<Record<string, string>> = {
  auto: 'auto',
  default: 'standard_only',
};

/** Whether the request asks for prompt caching (a cache key or a retention). */
export function cachingAsked(body: Record<string, unknown>): boolean {
  return body['prompt_cache_key'] != null || body['prompt_cache_retention'] != null;
}

/**
 * Cache breakpoint TTL for providers with 5-minute and 1-hour caches: OpenAI's extended
 * retention (`24h`) asks for the longest one there is, `1h`; otherwise the default (5 minutes).
 */
export function cacheTtl(body: Record<string, unknown>): '1h' | undefined {
  return body['prompt_cache_retention'] === '24h' ? '1h' : undefined;
}

/**
 * The controls in `body` that a provider of `type` (`api` for Bedrock's OpenAI-compatible
 * endpoint) cannot honour. OpenAI-family upstreams take them all as sent.
 */
export function droppedControls(
  type: string,
  api: string | undefined,
  body: Record<string, unknown>,
  translated = true,
): DroppedControl[] {
  const present = (field: string) => body[field] != null;
  const dropped: DroppedControl[] = [];
  const drop = (field: string, reason: string) => {
    if (present(field)) dropped.push({ field, reason });
  };
  const tier = body['service_tier'];
  switch (type) {
    case 'openai':
    case 'openai-compatible':
      return dropped;
    case 'azure-openai':
      // Azure's published chat request (azure-openai-v1.openapi.json) has none of them; an
      // OpenAI chat client's own body still passes through as sent (same protocol).
      if (translated)
        for (const field of CONTROL_FIELDS) drop(field, "not in Azure OpenAI's chat request");
      return dropped;
    case 'anthropic':
      drop(
        'prompt_cache_options',
        'OpenAI-only options; Anthropic caches at cache_control breakpoints',
      );
      if (typeof tier === 'string' && ANTHROPIC_SERVICE_TIERS[tier] === undefined)
        drop('service_tier', `Anthropic has no '${tier}' tier`);
      return dropped;
    case 'bedrock':
      if (api === 'openai') return dropped.concat(bedrockOpenAIDrops(body));
      drop('prompt_cache_options', 'OpenAI-only options; Bedrock caches at cachePoint blocks');
      if (typeof tier === 'string' && tier !== 'auto' && BEDROCK_SERVICE_TIERS[tier] === undefined)
        drop('service_tier', `Bedrock has no '${tier}' tier`);
      return dropped;
    default:
      // Gemini (and Vertex): implicit caching only, no tiers or end-user field in the request.
      drop('prompt_cache_key', 'Gemini caches implicitly; it takes no cache key');
      drop('prompt_cache_retention', 'Gemini sets its own cache retention');
      drop('prompt_cache_options', 'OpenAI-only options');
      drop('service_tier', 'Gemini requests carry no service tier');
      drop('safety_identifier', 'Gemini requests carry no end-user identifier');
      return dropped;
  }
}

/** Bedrock's OpenAI-compatible chat endpoint: OpenAI's shape without OpenAI's account features. */
function bedrockOpenAIDrops(body: Record<string, unknown>): DroppedControl[] {
  return ['prompt_cache_key', 'prompt_cache_retention', 'prompt_cache_options', 'service_tier']
    .filter((field) => body[field] != null)
    .map((field) => ({ field, reason: "not taken by Bedrock's OpenAI-compatible endpoint" }));
}

/** The warning header's text for dropped controls. */
export function controlWarnings(dropped: readonly DroppedControl[]): string[] {
  return dropped.map((entry) => `${entry.field} dropped: ${entry.reason}`);
}
