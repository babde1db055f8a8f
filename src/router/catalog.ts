import type {
  Config,
  DeploymentConfig,
  ModelConfig,
  PartnerConfig,
  ProviderConfig,
} from '../config/index.js';

/** A deployment resolved against its provider and partner. */
export interface Deployment {
  /** Stable key: `provider/upstream-model`. */
  key: string;
  /** Index in the model's `deployments` list (config order). */
  index: number;
  model: string;
  provider: string;
  providerConfig: ProviderConfig;
  upstreamModel: string;
  weight: number;
  api: 'converse' | 'openai' | undefined;
  partner: string | null;
  partnerConfig: PartnerConfig | undefined;
  config: DeploymentConfig;
  /** Where it runs: the deployment's `region`, else the provider's region or location; undefined when unknown. */
  region: string | undefined;
  sandbox: boolean;
  /** Sum of the deployment's input and output cost per 1M tokens (lowest-cost ordering); Infinity when unknown. */
  costRank: number;
  /** 0 for the primary partner's deployments, 1 otherwise. */
  primaryRank: number;
  /** Longest silence between upstream stream events, ms (deployment, else model, else routing). */
  streamIdleTimeoutMs: number;
  /** Longest upstream stream from the attempt's start, ms (deployment, else model, else routing). */
  streamTimeoutMs: number;
}

/** A logical model with its resolved deployments. */
export interface CatalogModel {
  name: string;
  config: ModelConfig;
  deployments: Deployment[];
}

/** The models clients may ask for, resolved once from config. */
export interface Catalog {
  get(name: string): CatalogModel | undefined;
  all(): CatalogModel[];
  primaryPartner: string | null;
}

/** Resolves every model's deployments to their providers and partners. */
export function createCatalog(config: Config): Catalog {
  const models = new Map<string, CatalogModel>();
  const primary =
    Object.entries(config.partners).find(([, partner]) => partner.primary)?.[0] ?? null;
  for (const [name, model] of Object.entries(config.models)) {
    const deployments = model.deployments.map((deployment, index): Deployment => {
      const providerConfig = config.providers[deployment.provider]!;
      const partner = providerConfig.partner ?? null;
      return {
        key: `${deployment.provider}/${deployment.model}`,
        index,
        model: name,
        provider: deployment.provider,
        providerConfig,
        upstreamModel: deployment.model,
        weight: deployment.weight,
        api: deployment.api,
        partner,
        partnerConfig: partner === null ? undefined : config.partners[partner],
        config: deployment,
        region: deployment.region ?? providerRegion(providerConfig),
        sandbox: providerConfig.sandbox,
        costRank: deployment.cost
          ? Number(deployment.cost.input) + Number(deployment.cost.output)
          : Number.POSITIVE_INFINITY,
        primaryRank: partner !== null && config.partners[partner]?.primary ? 0 : 1,
        streamIdleTimeoutMs:
          deployment.streamIdleTimeoutMs ??
          model.streamIdleTimeoutMs ??
          config.routing.streamIdleTimeoutMs,
        streamTimeoutMs:
          deployment.streamTimeoutMs ?? model.streamTimeoutMs ?? config.routing.streamTimeoutMs,
      };
    });
    models.set(name, { name, config: model, deployments });
  }
  return {
    get: (name) => models.get(name),
    all: () => [...models.values()],
    primaryPartner: primary,
  };
}

/** The region a provider's config names (Bedrock `region`, Vertex `location`), if any. */
function providerRegion(provider: ProviderConfig): string | undefined {
  if (provider.type === 'bedrock') return provider.region;
  if (provider.type === 'vertex') return provider.location;
  return undefined;
}
