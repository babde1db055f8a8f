export { ConfigError, loadConfigFile, parseConfig, validateConfig } from './load.js';
export { API_KINDS, configSchema, crossCheck } from './schema.js';
export type {
  ApiKind,
  Capability,
  Config,
  ConfigInput,
  DeploymentConfig,
  ModelConfig,
  PartnerConfig,
  ProviderConfig,
  ProviderType,
  RoutingConfig,
  RoutingRule,
  TokenPrice,
} from './schema.js';
export type { StoreConfig, StorePoolConfig, StoreSpoolConfig } from './store-schema.js';
export { DEFAULT_STORE_URL } from './store-schema.js';
