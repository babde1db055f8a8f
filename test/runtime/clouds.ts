import type { ConfigInput } from '../../src/config/index.js';
import { startAnthropicEmulator } from '../../src/sandbox/anthropic-emulator.js';
import { startBedrockEmulator } from '../../src/sandbox/bedrock-emulator.js';
import { startGeminiEmulator } from '../../src/sandbox/gemini-emulator.js';
import { startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { AZURE_KEY, OPENAI_KEY, pinned, type RecordedCloud, recordingProxy } from './helpers.js';

/**
 * Five emulated clouds of four protocol families (OpenAI chat: OpenAI and Azure; Anthropic
 * Messages; Bedrock Converse; Gemini generateContent), each behind a recording proxy, and one
 * logical model pinned to each, so a test picks the cloud of every turn by model name.
 */

const ANTHROPIC_KEY = 'sk-ant-emulated';
const BEDROCK_KEY = 'bedrock-api-key-emulated';
const GEMINI_KEY = 'AIza-emulated';

/** Logical model name → the cloud it is pinned to. */
export const CLOUD_MODELS = {
  azure: 'azure-mini',
  openai: 'openai-mini',
  anthropic: 'claude',
  bedrock: 'bedrock-claude',
  gemini: 'gemini-flash',
} as const;

export type CloudName = keyof typeof CLOUD_MODELS;

/** The running clouds. */
export interface FiveClouds {
  clouds: Record<CloudName, RecordedCloud>;
  /** Config `providers` and `models` for them. */
  config: {
    providers: NonNullable<ConfigInput['providers']>;
    models: NonNullable<ConfigInput['models']>;
  };
  close(): Promise<void>;
}

/** Starts the five clouds. */
export async function startFiveClouds(): Promise<FiveClouds> {
  const openaiEmulator = await startOpenAIEmulator({ flavor: 'openai', apiKey: OPENAI_KEY });
  const azureEmulator = await startOpenAIEmulator({ flavor: 'azure', apiKey: AZURE_KEY });
  const anthropicEmulator = await startAnthropicEmulator({ apiKey: ANTHROPIC_KEY });
  const bedrockEmulator = await startBedrockEmulator({ apiKey: BEDROCK_KEY });
  const geminiEmulator = await startGeminiEmulator({ apiKey: GEMINI_KEY });
  const clouds: Record<CloudName, RecordedCloud> = {
    openai: await recordingProxy(openaiEmulator.url, openaiEmulator),
    azure: await recordingProxy(azureEmulator.url, azureEmulator),
    anthropic: await recordingProxy(anthropicEmulator.url, anthropicEmulator),
    bedrock: await recordingProxy(bedrockEmulator.url, bedrockEmulator),
    gemini: await recordingProxy(geminiEmulator.url, geminiEmulator),
  };
  const providers: NonNullable<ConfigInput['providers']> = {
    'openai-direct': {
      type: 'openai',
      partner: 'openai',
      baseUrl: `${clouds.openai.url}/v1`,
      apiKey: OPENAI_KEY,
    },
    'azure-east': {
      type: 'azure-openai',
      partner: 'azure',
      baseUrl: clouds.azure.url,
      apiKey: AZURE_KEY,
      apiVersion: '2024-10-21',
    },
    'anthropic-direct': {
      type: 'anthropic',
      partner: 'anthropic',
      baseUrl: clouds.anthropic.url,
      apiKey: ANTHROPIC_KEY,
    },
    'bedrock-east': {
      type: 'bedrock',
      partner: 'aws',
      region: 'us-east-1',
      baseUrl: clouds.bedrock.url,
      apiKey: BEDROCK_KEY,
    },
    'gemini-direct': {
      type: 'gemini',
      partner: 'google',
      baseUrl: clouds.gemini.url,
      apiKey: GEMINI_KEY,
    },
  };
  const models: NonNullable<ConfigInput['models']> = {
    [CLOUD_MODELS.azure]: pinned('azure-east'),
    [CLOUD_MODELS.openai]: pinned('openai-direct'),
    [CLOUD_MODELS.anthropic]: pinned('anthropic-direct', 'claude-sonnet-4-5'),
    [CLOUD_MODELS.bedrock]: pinned('bedrock-east', 'anthropic.claude-sonnet-4-5-v1:0'),
    [CLOUD_MODELS.gemini]: pinned('gemini-direct', 'gemini-3-flash'),
  };
  return {
    clouds,
    config: { providers, models },
    close: async () =>
      void (await Promise.all(Object.values(clouds).map((cloud) => cloud.close()))),
  };
}

/** The last request body a cloud received, as JSON text (for "did it see X" checks). */
export function lastSent(cloud: RecordedCloud): string {
  const body = cloud.requests.at(-1)?.body;
  if (body === undefined) throw new Error('the cloud received no request');
  return body;
}
