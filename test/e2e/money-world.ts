import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type App, createApp } from '../../src/app.js';
import { type ConfigInput, validateConfig } from '../../src/config/index.js';
import { startAnthropicEmulator } from '../../src/sandbox/anthropic-emulator.js';
import { startBedrockEmulator } from '../../src/sandbox/bedrock-emulator.js';
import { startGeminiEmulator } from '../../src/sandbox/gemini-emulator.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { adminClient } from '../access/helpers.js';

/**
 * The metering suites' world: one emulator per provider family (each speaking its cloud's real
 * wire format, frames spaced so a client can leave mid-stream), a priced model pinned to each,
 * a partner with a revenue share, and Switchyards in front of them with a budgeted virtual key.
 */

export const FAMILIES = ['openai', 'azure', 'anthropic', 'bedrock', 'gemini'] as const;
export type Family = (typeof FAMILIES)[number];
export const MASTER = 'sk-money-master-0123456789';
const OPENAI_KEY = 'sk-emulated-openai-0123456789';
const AZURE_KEY = 'azure-emulated-key-0123456789';
const ANTHROPIC_KEY = 'sk-ant-emulated-0123456789';
const GEMINI_KEY = 'AIza-emulated-0123456789';
const AWS = { accessKeyId: 'AKIDMONEYUPSTREAM', secretAccessKey: 'money-upstream-secret' };

/** Customer price of every model (USD per 1M tokens) and the partner's share. */
export const PRICE = { input: '2.5', output: '10' } as const;
export const SHARE_RATE = '0.2';

/** The logical model pinned to each family. */
export const modelOf = (family: Family) => `via-${family}`;

export interface Emulators {
  urls: Record<Family, string>;
  close(): Promise<void>;
}

/** Starts the five emulators with `tokenDelayMs` between stream frames. */
export async function startEmulators(tokenDelayMs: number): Promise<Emulators> {
  const list: Record<Family, Emulator> = {
    openai: await startOpenAIEmulator({ flavor: 'openai', apiKey: OPENAI_KEY, tokenDelayMs }),
    azure: await startOpenAIEmulator({ flavor: 'azure', apiKey: AZURE_KEY, tokenDelayMs }),
    anthropic: await startAnthropicEmulator({ apiKey: ANTHROPIC_KEY, tokenDelayMs }),
    bedrock: await startBedrockEmulator({ credentials: AWS, tokenDelayMs }),
    gemini: await startGeminiEmulator({ apiKey: GEMINI_KEY, tokenDelayMs }),
  };
  return {
    urls: Object.fromEntries(FAMILIES.map((family) => [family, list[family].url])) as Record<
      Family,
      string
    >,
    close: async () => void (await Promise.all(FAMILIES.map((family) => list[family].close()))),
  };
}

/** The config of a Switchyard over `emulators`; `extra` is merged on top. */
export function moneyConfig(emulators: Emulators, extra: Partial<ConfigInput> = {}): ConfigInput {
  const { urls } = emulators;
  const deployment: Record<Family, { provider: string; model: string }> = {
    openai: { provider: 'openai', model: 'gpt-4o-mini' },
    azure: { provider: 'azure', model: 'gpt-4o-mini' },
    anthropic: { provider: 'anthropic', model: 'claude-sonnet-4-5' },
    bedrock: { provider: 'bedrock', model: 'anthropic.claude-3-haiku-20240307-v1:0' },
    gemini: { provider: 'gemini', model: 'gemini-2.5-flash' },
  };
  return {
    store: 'sqlite::memory:',
    logging: { level: 'silent' },
    auth: { masterKey: MASTER },
    routing: { retries: 0 },
    partners: { cloud: { primary: true, revenueShare: { rate: SHARE_RATE } } },
    providers: {
      openai: {
        type: 'openai',
        partner: 'cloud',
        baseUrl: `${urls.openai}/v1`,
        apiKey: OPENAI_KEY,
      },
      azure: {
        type: 'azure-openai',
        partner: 'cloud',
        baseUrl: urls.azure,
        apiKey: AZURE_KEY,
        apiVersion: '2024-10-21',
      },
      anthropic: {
        type: 'anthropic',
        partner: 'cloud',
        baseUrl: urls.anthropic,
        apiKey: ANTHROPIC_KEY,
      },
      bedrock: {
        type: 'bedrock',
        partner: 'cloud',
        region: 'us-east-1',
        baseUrl: urls.bedrock,
        ...AWS,
      },
      gemini: { type: 'gemini', partner: 'cloud', baseUrl: urls.gemini, apiKey: GEMINI_KEY },
    },
    models: Object.fromEntries(
      FAMILIES.map((family) => [
        modelOf(family),
        { price: { ...PRICE }, deployments: [deployment[family]] },
      ]),
    ),
    ...extra,
  } as ConfigInput;
}

/** A listening Switchyard with a virtual key under a hard budget. */
export interface MoneyGateway {
  app: App;
  url: string;
  /** The virtual key's secret and id. */
  key: string;
  keyId: string;
  /** The key's spend in its budget period, µUSD. */
  spent(): Promise<bigint>;
  close(): Promise<void>;
}

/** Starts a Switchyard on `config` and creates a key with a hard budget of `budgetMicros`. */
export async function startMoneyGateway(
  config: ConfigInput,
  budgetMicros = 100_000_000n,
): Promise<MoneyGateway> {
  const app = await createApp({
    config: validateConfig(config),
    logger: createLogger({ level: 'silent' }),
  });
  const { url } = await app.listen(0, '127.0.0.1');
  const admin = adminClient(url, MASTER);
  const { key, secret } = await admin.setup({
    key: { budget: { amount_micros: budgetMicros.toString(), period: 'month', mode: 'hard' } },
  });
  const keyId = String(key.id);
  return {
    app,
    url,
    key: secret,
    keyId,
    async spent() {
      const levels = await app.access.admin.status('key', keyId);
      return levels.find((level) => level.kind === 'key')?.spend?.spentMicros ?? 0n;
    },
    close: () => app.close(),
  };
}

/** The SDK clients of the four surfaces, authenticated with `key`. */
export function clients(url: string, key: string) {
  return {
    openai: new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 }),
    anthropic: new Anthropic({ baseURL: url, apiKey: key, maxRetries: 0 }),
    bedrock: new BedrockRuntimeClient({
      endpoint: url,
      region: 'us-east-1',
      token: { token: key },
      authSchemePreference: ['httpBearerAuth'],
      maxAttempts: 1,
    }),
  };
}
