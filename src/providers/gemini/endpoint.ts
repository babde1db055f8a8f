import type { ProviderConfig } from '../../config/index.js';
import { GatewayError } from '../../errors/index.js';
import { merged } from '../../core/objects.js';

/**
 * Where Gemini calls go and how they authenticate (gemini-vertex.md §1):
 * - `gemini`: `{baseUrl ?? https://generativelanguage.googleapis.com}/v1beta/models/{model}:{method}`
 *   with `x-goog-api-key` (config `apiKey`, else env `GEMINI_API_KEY` / `GOOGLE_API_KEY`, as the
 *   @google/genai SDK reads them; no header when none is set, e.g. for the local emulator);
 * - `vertex`: `{https://{location}-aiplatform.googleapis.com | https://aiplatform.googleapis.com
 *   (global) | https://aiplatform.{us|eu}.rep.googleapis.com}/v1/projects/{project}/locations/
 *   {location}/publishers/google/models/{model}:{method}` with `Authorization: Bearer <accessToken>`.
 *   A model that is already a resource path (`projects/…`, `publishers/…/models/…`, `endpoints/…`)
 *   is used as such.
 * Streaming uses `:streamGenerateContent?alt=sse` (without `alt=sse` Google streams a JSON array).
 * Vertex `credentials` (service-account file) are not supported yet: the factory throws.
 */

type GoogleConfig = Extract<ProviderConfig, { type: 'gemini' | 'vertex' }>;

/** A resolved endpoint: URL builder and auth headers. */
export interface GeminiEndpoint {
  url(model: string, stream: boolean): string;
  headers: Record<string, string>;
}

const GEMINI_BASE = 'https://generativelanguage.googleapis.com';

/** Resolves the endpoint for a provider config; throws for configurations we cannot serve. */
export function resolveEndpoint(
  id: string,
  config: GoogleConfig,
  env: Record<string, string | undefined>,
): GeminiEndpoint {
  const method = (stream: boolean): string =>
    stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
  const extra = config.headers ?? {};
  if (config.type === 'gemini') {
    const base = trimSlash(config.baseUrl ?? GEMINI_BASE);
    const key = config.apiKey ?? env['GEMINI_API_KEY'] ?? env['GOOGLE_API_KEY'];
    return {
      url: (model, stream) =>
        `${base}/v1beta/${/^(models|tunedModels)\//.test(model) ? model : `models/${model}`}:${method(stream)}`,
      headers: merged(extra, key ? { 'x-goog-api-key': key } : {}),
    };
  }
  if (config.accessToken === undefined) {
    // Service-account files need a JWT → OAuth token exchange with refresh; not built yet, so a
    // token from `gcloud auth print-access-token` (or a sidecar that refreshes config) is required.
    throw new GatewayError(
      `Provider ${id}: vertex needs "accessToken"; ${config.credentials ? '"credentials" files are not supported yet' : 'none is set'}`,
      {
        code: 'internal_error',
        status: 500,
        errorClass: 'internal',
        retryable: false,
        failover: true,
      },
    );
  }
  const { project, location } = config;
  const base = trimSlash(config.baseUrl ?? vertexHost(location));
  const scope = `projects/${project}/locations/${location}`;
  return {
    url: (model, stream) => {
      const path = model.startsWith('projects/')
        ? model
        : model.includes('/')
          ? `${scope}/${model}`
          : `${scope}/publishers/google/models/${model}`;
      return `${base}/v1/${path}:${method(stream)}`;
    },
    headers: merged(extra, { authorization: `Bearer ${config.accessToken}` }),
  };
}

/** The regional, global or multi-region Vertex host. */
export function vertexHost(location: string): string {
  if (location === 'global') return 'https://aiplatform.googleapis.com';
  if (location === 'us' || location === 'eu')
    return `https://aiplatform.${location}.rep.googleapis.com`;
  return `https://${location}-aiplatform.googleapis.com`;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
