import { type App, createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import type { UpstreamRequest } from '../../src/providers/index.js';
import { startAnthropicEmulator } from '../../src/sandbox/anthropic-emulator.js';
import { startBedrockEmulator } from '../../src/sandbox/bedrock-emulator.js';
import { startGeminiEmulator } from '../../src/sandbox/gemini-emulator.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createTransport } from '../../src/transport/http.js';

/**
 * The cross matrix's world: one emulator per provider type (each speaking its real wire format),
 * one Switchyard with one logical model pinned to each, and a transport that records every
 * upstream request so a test can check what each cloud was sent.
 */

/** Provider types of the matrix, in report order. */
export const PROVIDERS = ['openai', 'azure-openai', 'bedrock', 'anthropic', 'gemini'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** The logical model pinned to each provider. */
export const MODEL: Record<ProviderName, string> = {
  openai: 'via-openai',
  'azure-openai': 'via-azure-openai',
  bedrock: 'via-bedrock',
  anthropic: 'via-anthropic',
  gemini: 'via-gemini',
};

export const MASTER_KEY = 'sk-switchyard-matrix-master-0123456789';
const OPENAI_KEY = 'sk-emulated-openai-0123456789';
const AZURE_KEY = 'azure-emulated-key-0123456789';
const ANTHROPIC_KEY = 'sk-ant-emulated-0123456789';
const GEMINI_KEY = 'AIza-emulated-0123456789';
const AWS = { accessKeyId: 'AKIDMATRIXUPSTREAM', secretAccessKey: 'matrix-upstream-secret' };

/** One request Switchyard sent upstream. */
export interface SentRequest {
  provider: ProviderName;
  url: string;
  /** Parsed JSON body. */
  body: unknown;
  /** The body as sent. */
  text: string;
}

/** A running matrix world. */
export interface Matrix {
  app: App;
  url: string;
  /** Every upstream request, in order. */
  sent: SentRequest[];
  close(): Promise<void>;
}

/** Starts the five emulators and Switchyard in front of them. */
export async function startMatrix(): Promise<Matrix> {
  const emulators: Record<ProviderName, Emulator> = {
    openai: await startOpenAIEmulator({ flavor: 'openai', apiKey: OPENAI_KEY }),
    'azure-openai': await startOpenAIEmulator({ flavor: 'azure', apiKey: AZURE_KEY }),
    bedrock: await startBedrockEmulator({ credentials: AWS }),
    anthropic: await startAnthropicEmulator({ apiKey: ANTHROPIC_KEY }),
    // gemini-3 models enforce thought signatures on replayed function calls, as the real API does.
    gemini: await startGeminiEmulator({ apiKey: GEMINI_KEY }),
  };
  const config = validateConfig({
    store: 'sqlite::memory:',
    logging: { level: 'silent' },
    auth: { masterKey: MASTER_KEY },
    // A case must be served by the provider it names: no retries that could hide a rejection.
    routing: { retries: 0 },
    providers: {
      openai: { type: 'openai', baseUrl: `${emulators.openai.url}/v1`, apiKey: OPENAI_KEY },
      'azure-openai': {
        type: 'azure-openai',
        baseUrl: emulators['azure-openai'].url,
        apiKey: AZURE_KEY,
        apiVersion: '2024-10-21',
      },
      bedrock: { type: 'bedrock', region: 'us-east-1', baseUrl: emulators.bedrock.url, ...AWS },
      anthropic: { type: 'anthropic', baseUrl: emulators.anthropic.url, apiKey: ANTHROPIC_KEY },
      gemini: { type: 'gemini', baseUrl: emulators.gemini.url, apiKey: GEMINI_KEY },
    },
    models: {
      [MODEL.openai]: {
        capabilities: ['tools'],
        deployments: [{ provider: 'openai', model: 'gpt-4o-mini' }],
      },
      [MODEL['azure-openai']]: {
        capabilities: ['tools'],
        deployments: [{ provider: 'azure-openai', model: 'gpt-4o-mini' }],
      },
      [MODEL.bedrock]: {
        capabilities: ['tools'],
        deployments: [{ provider: 'bedrock', model: 'anthropic.claude-3-haiku-20240307-v1:0' }],
      },
      [MODEL.anthropic]: {
        capabilities: ['tools'],
        deployments: [{ provider: 'anthropic', model: 'claude-sonnet-4-5' }],
      },
      [MODEL.gemini]: {
        capabilities: ['tools'],
        deployments: [{ provider: 'gemini', model: 'gemini-3-flash' }],
      },
    },
  });

  const sent: SentRequest[] = [];
  const transport = createTransport({ headersTimeoutMs: config.routing.attemptTimeoutMs });
  const origins = Object.entries(emulators).map(
    ([name, emulator]) => [name as ProviderName, emulator.url] as const,
  );
  const recording = {
    send(upstream: UpstreamRequest, signal: AbortSignal) {
      const provider = origins.find(([, origin]) => upstream.url.startsWith(`${origin}/`))?.[0];
      const text =
        upstream.body === undefined
          ? ''
          : typeof upstream.body === 'string'
            ? upstream.body
            : Buffer.from(upstream.body).toString('utf8');
      if (provider)
        sent.push({
          provider,
          url: upstream.url,
          text,
          body: text === '' ? undefined : (JSON.parse(text) as unknown),
        });
      return transport.send(upstream, signal);
    },
    close: () => transport.close(),
  };
  const app = await createApp({
    config,
    logger: createLogger({ level: 'silent' }),
    transport: recording,
  });
  const { url } = await app.listen(0, '127.0.0.1');
  return {
    app,
    url,
    sent,
    async close() {
      await app.close();
      await transport.close();
      await Promise.all(Object.values(emulators).map((emulator) => emulator.close()));
    },
  };
}

/** A tool-call id as it appears in an upstream request: on a call, or on the result answering it. */
export interface SentToolId {
  kind: 'call' | 'result';
  id: string;
}

/** The tool-call ids in a request body, read in the upstream's own wire format. */
export function toolIdsOf(request: SentRequest): SentToolId[] {
  const ids: SentToolId[] = [];
  const body = request.body as
    | { messages?: Array<Record<string, unknown>>; contents?: unknown[] }
    | undefined;
  for (const message of body?.messages ?? []) {
    if (request.provider === 'openai' || request.provider === 'azure-openai') {
      for (const call of (message['tool_calls'] as Array<{ id: string }> | undefined) ?? [])
        ids.push({ kind: 'call', id: call.id });
      if (message['role'] === 'tool')
        ids.push({ kind: 'result', id: String(message['tool_call_id']) });
    } else if (request.provider === 'anthropic') {
      for (const block of Array.isArray(message['content'])
        ? (message['content'] as Array<Record<string, unknown>>)
        : []) {
        if (block['type'] === 'tool_use') ids.push({ kind: 'call', id: String(block['id']) });
        if (block['type'] === 'tool_result')
          ids.push({ kind: 'result', id: String(block['tool_use_id']) });
      }
    } else if (request.provider === 'bedrock') {
      for (const block of (message['content'] as
        | Array<{ toolUse?: { toolUseId: string }; toolResult?: { toolUseId: string } }>
        | undefined) ?? []) {
        if (block.toolUse) ids.push({ kind: 'call', id: block.toolUse.toolUseId });
        if (block.toolResult) ids.push({ kind: 'result', id: block.toolResult.toolUseId });
      }
    }
  }
  return ids;
}

/**
 * What each upstream accepts as a tool-call id (Gemini pairs calls and results by name, with an
 * optional id of its own, so it has no rule here):
 * - OpenAI and Azure OpenAI: at most 40 characters ("Invalid 'messages[1].tool_calls[0].id':
 *   string too long. Expected a string with maximum length 40").
 * - Bedrock Converse: `toolUseId` 1–64 characters of `[a-zA-Z0-9_-]`
 *   (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolUseBlock.html).
 * - Anthropic: `tool_use.id` and `tool_result.tool_use_id` match `^[a-zA-Z0-9_-]+$`.
 */
export const ID_RULES: Partial<
  Record<ProviderName, { describe: string; test(id: string): boolean }>
> = {
  openai: { describe: 'at most 40 characters', test: (id) => id.length > 0 && id.length <= 40 },
  'azure-openai': {
    describe: 'at most 40 characters',
    test: (id) => id.length > 0 && id.length <= 40,
  },
  bedrock: { describe: '1-64 of [a-zA-Z0-9_-]', test: (id) => /^[a-zA-Z0-9_-]{1,64}$/.test(id) },
  anthropic: { describe: '^[a-zA-Z0-9_-]+$', test: (id) => /^[a-zA-Z0-9_-]+$/.test(id) },
};

/** Ids in `request` its upstream would reject, and results whose id matches no call in the request. */
export function idProblems(request: SentRequest): string[] {
  const ids = toolIdsOf(request);
  const rule = ID_RULES[request.provider];
  const problems: string[] = [];
  for (const { kind, id } of ids) {
    if (rule && !rule.test(id))
      problems.push(
        `${request.provider}: ${kind} id of ${id.length} chars is not ${rule.describe}: ${id.slice(0, 60)}…`,
      );
  }
  const calls = new Set(ids.filter((entry) => entry.kind === 'call').map((entry) => entry.id));
  for (const { kind, id } of ids)
    if (kind === 'result' && !calls.has(id))
      problems.push(`${request.provider}: result id ${id} answers no call`);
  return problems;
}
