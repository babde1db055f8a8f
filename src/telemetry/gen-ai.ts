import type { Config } from '../config/index.js';

/**
 * Helpers for the OpenTelemetry GenAI semantic conventions.
 * https://opentelemetry.io/docs/specs/semconv/gen-ai/
 */

/** `gen_ai.provider.name` for a Switchyard provider type (well-known values where they exist). */
export function genAiProviderName(type: string | undefined): string {
  switch (type) {
    case 'openai':
      return 'openai';
    case 'azure-openai':
      return 'azure.ai.openai';
    case 'bedrock':
      return 'aws.bedrock';
    case 'anthropic':
      return 'anthropic';
    case 'gemini':
      return 'gcp.gemini';
    case 'vertex':
      return 'gcp.vertex_ai';
    case undefined:
      return '';
    default:
      return type;
  }
}

/** `gen_ai.operation.name` for a gateway operation. */
export function genAiOperation(operation: 'chat' | 'embeddings'): string {
  return operation;
}

/** `server.address` and `server.port` of an upstream (HTTP client span conventions). */
export interface ServerAddress {
  address: string;
  port: number;
}

/**
 * Where a provider's requests go, as its adapter builds the URL: `baseUrl` when set, else the
 * cloud's public endpoint. Undefined when it cannot be told from the configuration.
 */
export function upstreamAddress(provider: Config['providers'][string]): ServerAddress | undefined {
  const fallback = (): string | undefined => {
    switch (provider.type) {
      case 'openai':
        return 'https://api.openai.com';
      case 'anthropic':
        return 'https://api.anthropic.com';
      case 'bedrock':
        return `https://bedrock-runtime.${provider.region}.amazonaws.com`;
      case 'gemini':
        return 'https://generativelanguage.googleapis.com';
      case 'vertex':
        return provider.location === 'global'
          ? 'https://aiplatform.googleapis.com'
          : `https://${provider.location}-aiplatform.googleapis.com`;
      default:
        return undefined;
    }
  };
  const base = provider.baseUrl ?? fallback();
  if (base === undefined) return undefined;
  try {
    const url = new URL(base);
    const port = url.port === '' ? (url.protocol === 'http:' ? 80 : 443) : Number(url.port);
    return { address: url.hostname.replace(/^\[|\]$/g, ''), port };
  } catch {
    return undefined;
  }
}
