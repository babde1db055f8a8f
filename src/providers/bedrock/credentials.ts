import type { ProviderConfig } from '../../config/index.js';
import { GatewayError } from '../../errors/index.js';
import type { AwsCredentials } from '../../transport/sigv4.js';

type BedrockConfig = Extract<ProviderConfig, { type: 'bedrock' }>;

/** How requests to one Bedrock provider are authenticated. */
export type BedrockAuth =
  | { kind: 'bearer'; token: string }
  | {
      kind: 'sigv4';
      source: 'config' | 'env' | 'default-chain';
      credentials: () => Promise<AwsCredentials>;
    };

/**
 * Picks the credentials of a Bedrock provider, first match wins:
 * 1. `apiKey` (a Bedrock API key) → `Authorization: Bearer`.
 * 2. `accessKeyId` + `secretAccessKey` (+ `sessionToken`) from config → SigV4.
 * 3. `AWS_BEARER_TOKEN_BEDROCK` in the environment → Bearer (what the AWS SDK does).
 * 4. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) → SigV4.
 * 5. The AWS default credential chain (profiles, SSO, web identity, ECS, IMDS) through
 *    `@aws-sdk/credential-provider-node`, loaded on first use and memoised (it refreshes
 *    temporary credentials itself).
 */
export function resolveBedrockAuth(
  config: BedrockConfig,
  env: Record<string, string | undefined>,
  provider: string,
): BedrockAuth {
  if (config.apiKey) return { kind: 'bearer', token: config.apiKey };
  if (config.accessKeyId && config.secretAccessKey) {
    const credentials: AwsCredentials = {
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      sessionToken: config.sessionToken,
    };
    return { kind: 'sigv4', source: 'config', credentials: async () => credentials };
  }
  const bearer = env['AWS_BEARER_TOKEN_BEDROCK'];
  if (bearer) return { kind: 'bearer', token: bearer };
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  if (accessKeyId && secretAccessKey) {
    const credentials: AwsCredentials = {
      accessKeyId,
      secretAccessKey,
      sessionToken: env['AWS_SESSION_TOKEN'],
    };
    return { kind: 'sigv4', source: 'env', credentials: async () => credentials };
  }
  return { kind: 'sigv4', source: 'default-chain', credentials: defaultChain(provider) };
}

function defaultChain(provider: string): () => Promise<AwsCredentials> {
  let chain: Promise<() => Promise<AwsCredentials>> | undefined;
  return async () => {
    chain ??= loadChain();
    try {
      return await (await chain)();
    } catch (error) {
      chain = undefined;
      throw new GatewayError(
        `No AWS credentials for Bedrock provider ${provider}: ${(error as Error).message}`,
        {
          code: 'upstream_auth',
          status: 502,
          errorClass: 'auth',
          retryable: false,
          failover: true,
          cause: error,
        },
      );
    }
  };
}

async function loadChain(): Promise<() => Promise<AwsCredentials>> {
  // Not a hard dependency: only deployments relying on the default chain need it.
  const specifier = '@aws-sdk/credential-provider-node';
  const module = (await import(specifier)) as {
    defaultProvider: () => () => Promise<AwsCredentials>;
  };
  return module.defaultProvider();
}
