import type { Config, ProviderType } from '../config/index.js';
import type { AdapterDeps, AdapterFactory, ProviderAdapter } from './adapter.js';
import { anthropicAdapter } from './anthropic/index.js';
import { bedrockAdapter } from './bedrock/index.js';
import { geminiAdapter } from './gemini/index.js';
import { openAIAdapter } from './openai/index.js';

export type {
  AdapterDeps,
  AdapterFactory,
  DeploymentTarget,
  GatewayCall,
  ProviderAdapter,
  StreamItem,
  UpstreamErrorResponse,
  UpstreamFrame,
  UpstreamRequest,
} from './adapter.js';
export { itemOf } from './adapter.js';
export { controlWarnings, type DroppedControl, droppedControls } from './controls.js';

/** Adapter factory per provider type. */
const FACTORIES: Partial<Record<ProviderType, AdapterFactory>> = {
  openai: openAIAdapter,
  'azure-openai': openAIAdapter,
  'openai-compatible': openAIAdapter,
  anthropic: anthropicAdapter,
  bedrock: bedrockAdapter,
  gemini: geminiAdapter,
  vertex: geminiAdapter,
};

/** Registers the factory for a provider type (each provider module calls this from app wiring). */
export function adapterFactoryFor(type: ProviderType): AdapterFactory | undefined {
  return FACTORIES[type];
}

/** Builds one adapter per configured provider. Throws for a type without an adapter. */
export function createAdapters(config: Config, deps: AdapterDeps): Map<string, ProviderAdapter> {
  const adapters = new Map<string, ProviderAdapter>();
  for (const [id, provider] of Object.entries(config.providers)) {
    const factory = FACTORIES[provider.type];
    if (!factory)
      throw new Error(`providers.${id}.type: no adapter for "${provider.type}" in this build`);
    adapters.set(id, factory(id, provider, deps));
  }
  return adapters;
}
