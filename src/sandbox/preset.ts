import type { Config } from '../config/index.js';
import { validateConfig } from '../config/index.js';
import { isLoopback } from '../access/index.js';
import { loadTokenizer } from '../core/tokens.js';
import { GatewayError } from '../errors/index.js';
import { sendJson, sendOpenAIError } from '../server/respond.js';
import type { Route } from '../server/types.js';
import { startAnthropicEmulator } from './anthropic-emulator.js';
import { startBedrockEmulator } from './bedrock-emulator.js';
import { type Emulator, startOpenAIEmulator } from './openai-emulator.js';

/** Credentials the emulated Bedrock verifies SigV4 signatures against. */
export const SANDBOX_AWS = {
  accessKeyId: 'AKIASANDBOXEXAMPLE',
  secretAccessKey: 'sandbox-secret-access-key',
};

/**
 * The sandbox Azure's provisioned (PTU) deployment and its capacity, tokens per minute: route a
 * model to it with `reservedTpm` to watch reserved capacity fill and spill (docs/commitments.md).
 */
export const SANDBOX_PTU = { deployment: 'gpt-4o-mini-ptu', tpm: 2_000 } as const;

/** The running emulated clouds, by name (`azure`, `openai`, ...). */
export interface SandboxClouds {
  clouds: Map<string, Emulator>;
  close(): Promise<void>;
}

/** Options of the sandbox. */
export interface SandboxOptions {
  /** Delay between streamed tokens, ms. Default 0. */
  tokenDelayMs?: number;
  /** Clouds to start already down (`--sandbox-down azure`). */
  down?: string[];
}

/** Starts every emulated cloud on a loopback port. */
export async function startSandboxClouds(options: SandboxOptions = {}): Promise<SandboxClouds> {
  // Every emulated answer counts its tokens: load the tokenizer now, not on the first request.
  loadTokenizer();
  const tokenDelayMs = options.tokenDelayMs ?? 0;
  const clouds = new Map<string, Emulator>();
  clouds.set(
    'azure',
    await startOpenAIEmulator({
      flavor: 'azure',
      tokenDelayMs,
      apiKey: 'sandbox-azure-key',
      ptu: { [SANDBOX_PTU.deployment]: SANDBOX_PTU.tpm },
    }),
  );
  clouds.set(
    'openai',
    await startOpenAIEmulator({ flavor: 'openai', tokenDelayMs, apiKey: 'sandbox-openai-key' }),
  );
  clouds.set(
    'anthropic',
    await startAnthropicEmulator({ tokenDelayMs, apiKey: 'sandbox-anthropic-key' }),
  );
  clouds.set(
    'bedrock',
    await startBedrockEmulator({ tokenDelayMs, region: 'us-west-2', credentials: SANDBOX_AWS }),
  );
  for (const name of options.down ?? []) {
    const cloud = clouds.get(name);
    if (!cloud)
      throw new Error(
        `--sandbox-down: unknown cloud "${name}" (known: ${[...clouds.keys()].join(', ')})`,
      );
    cloud.setDown(true);
  }
  return {
    clouds,
    async close() {
      await Promise.all([...clouds.values()].map((cloud) => cloud.close()));
    },
  };
}

/**
 * The config a newcomer gets with no config file: sandbox models routed through the real
 * provider code to the emulated clouds, Azure as the primary cloud partner.
 */
export function sandboxConfig(
  sandbox: SandboxClouds,
  overrides: { port?: number; host?: string; store?: string; masterKey?: string } = {},
): Config {
  const url = (name: string) => sandbox.clouds.get(name)!.url;
  return validateConfig({
    // No load balancer watches the sandbox's readiness: stopping it need not wait for one.
    server: {
      port: overrides.port ?? 8080,
      host: overrides.host ?? '127.0.0.1',
      shutdownDelayMs: 0,
    },
    store: overrides.store ?? 'sqlite:./data/switchyard.db',
    auth: overrides.masterKey === undefined ? {} : { masterKey: overrides.masterKey },
    partners: {
      azure: {
        name: 'Microsoft Azure (sandbox)',
        primary: true,
        license: { from: '2019-07-22', until: '2033-01-01' },
        revenueShare: { rate: '0.20', cap: '50000000000', from: '2019-07-22', until: '2031-01-01' },
      },
      openai: { name: 'OpenAI direct (sandbox)' },
      anthropic: { name: 'Anthropic direct (sandbox)' },
      aws: {
        name: 'Amazon Web Services (sandbox)',
        license: { from: '2026-02-27', until: '2032-01-01' },
      },
    },
    providers: {
      'sandbox-azure': {
        type: 'azure-openai',
        partner: 'azure',
        baseUrl: url('azure'),
        apiKey: 'sandbox-azure-key',
        apiVersion: '2024-10-21',
        sandbox: true,
      },
      'sandbox-openai': {
        type: 'openai',
        partner: 'openai',
        baseUrl: `${url('openai')}/v1`,
        apiKey: 'sandbox-openai-key',
        sandbox: true,
      },
      'sandbox-anthropic': {
        type: 'anthropic',
        partner: 'anthropic',
        baseUrl: url('anthropic'),
        apiKey: 'sandbox-anthropic-key',
        sandbox: true,
      },
      'sandbox-bedrock': {
        type: 'bedrock',
        partner: 'aws',
        region: 'us-west-2',
        baseUrl: url('bedrock'),
        ...SANDBOX_AWS,
        sandbox: true,
      },
    },
    models: {
      'gpt-4o-mini': {
        description: 'Sandbox chat model (deterministic emulator)',
        contextWindow: 128000,
        maxOutputTokens: 16384,
        capabilities: ['tools', 'json_schema', 'vision'],
        price: { input: '0.15', cachedInput: '0.075', output: '0.60' },
        deployments: [
          { provider: 'sandbox-azure', model: 'gpt-4o-mini' },
          { provider: 'sandbox-openai', model: 'gpt-4o-mini' },
        ],
      },
      'gpt-oss-120b': {
        description: 'Sandbox open-weight model: Azure first (primary partner), Bedrock second',
        contextWindow: 131072,
        capabilities: ['tools', 'json_schema'],
        price: { input: '0.15', cachedInput: '0.075', output: '0.60' },
        deployments: [
          { provider: 'sandbox-azure', model: 'gpt-oss-120b' },
          { provider: 'sandbox-bedrock', model: 'openai.gpt-oss-120b-1:0', weight: 2 },
        ],
      },
      'claude-sonnet': {
        description:
          'Sandbox Claude-style model (deterministic emulator behind the Anthropic Messages API)',
        contextWindow: 200000,
        maxOutputTokens: 8192,
        capabilities: ['tools', 'json_schema', 'vision', 'reasoning'],
        price: { input: '3', cachedInput: '0.30', output: '15' },
        deployments: [
          { provider: 'sandbox-anthropic', model: 'claude-sonnet-4-5' },
          { provider: 'sandbox-bedrock', model: 'anthropic.claude-sonnet-4-5-v1:0' },
        ],
      },
      'text-embedding-3-small': {
        kind: 'embedding',
        price: { input: '0.02', output: '0' },
        deployments: [{ provider: 'sandbox-openai', model: 'text-embedding-3-small' }],
      },
    },
    routing: { strategy: 'primary-first', retries: 2, attemptTimeoutMs: 30000 },
  });
}

/** Fault injection for newcomers: `POST /sandbox/clouds/{name}/down` and `/up`, `GET /sandbox/clouds`. Loopback or master key only. */
export function sandboxRoutes(sandbox: SandboxClouds, masterKey: string | undefined): Route[] {
  const guard = (authorization: string | undefined, remote: string | undefined) => {
    const ok =
      masterKey === undefined ? isLoopback(remote) : authorization === `Bearer ${masterKey}`;
    if (!ok)
      throw new GatewayError(
        'Sandbox controls need the master key (or loopback when none is set)',
        { code: 'unauthorized', status: 401, retryable: false },
      );
  };
  const list = () =>
    [...sandbox.clouds].map(([name, cloud]) => ({
      name,
      url: cloud.url,
      down: cloud.isDown(),
      requests: cloud.requests,
    }));
  const toggle =
    (down: boolean): Route['handler'] =>
    async (context) => {
      try {
        guard(context.request.headers.authorization, context.remoteAddress);
        const cloud = sandbox.clouds.get(context.params['cloud'] ?? '');
        if (!cloud)
          throw new GatewayError(`Unknown sandbox cloud "${context.params['cloud']}"`, {
            code: 'not_found',
            status: 404,
            retryable: false,
          });
        cloud.setDown(down);
        sendJson(context.response, 200, { clouds: list() });
      } catch (error) {
        sendOpenAIError(context.response, error as GatewayError);
      }
    };
  return [
    {
      method: 'GET',
      path: '/sandbox/clouds',
      async handler(context) {
        try {
          guard(context.request.headers.authorization, context.remoteAddress);
          sendJson(context.response, 200, { clouds: list() });
        } catch (error) {
          sendOpenAIError(context.response, error as GatewayError);
        }
      },
    },
    { method: 'POST', path: '/sandbox/clouds/:cloud/down', handler: toggle(true) },
    { method: 'POST', path: '/sandbox/clouds/:cloud/up', handler: toggle(false) },
  ];
}
