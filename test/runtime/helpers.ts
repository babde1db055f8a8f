import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { type App, createApp } from '../../src/app.js';
import { type ConfigInput, validateConfig } from '../../src/config/index.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import type { Database } from '../../src/store/index.js';
import { createLogger } from '../../src/telemetry/logger.js';

/**
 * Test rig for the runtime: emulated clouds behind recording proxies (so a test can read what
 * each cloud was asked), and Switchyard apps listening on loopback, several of which may share
 * one database (replicas).
 */

export const MASTER_KEY = 'sk-master-runtime-tests';
export const TENANT_A_KEY = 'sk-tenant-a-0123456789';
export const TENANT_B_KEY = 'sk-tenant-b-0123456789';
export const OPENAI_KEY = 'sk-emulated-openai';
export const AZURE_KEY = 'azure-emulated-key';

/** A request a cloud received through the proxy. */
export interface Recorded {
  method: string;
  url: string;
  body: string;
}

/** A cloud (emulator) and the proxy that records requests on their way to it. */
export interface RecordedCloud {
  /** The proxy's base URL (configure providers with it). */
  url: string;
  requests: Recorded[];
  /** Bodies of the recorded requests, parsed. */
  bodies(): Array<Record<string, unknown>>;
  emulator: { close(): Promise<unknown> };
  close(): Promise<void>;
}

/** Puts a recording reverse proxy in front of `target` (a base URL). */
export async function recordingProxy(
  target: string,
  emulator: { close(): Promise<unknown> },
): Promise<RecordedCloud> {
  const requests: Recorded[] = [];
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: incoming.method ?? 'GET', url: incoming.url ?? '/', body });
      const headers = { ...incoming.headers };
      delete headers.host;
      delete headers['content-length'];
      request(`${target}${incoming.url ?? '/'}`, {
        method: (incoming.method ?? 'GET') as 'POST',
        headers,
        body: body === '' ? null : body,
      })
        .then(async (answer) => {
          const out: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(answer.headers))
            if (
              value !== undefined &&
              name !== 'content-length' &&
              name !== 'transfer-encoding' &&
              name !== 'connection'
            )
              out[name] = value;
          outgoing.writeHead(answer.statusCode, out);
          for await (const chunk of answer.body) outgoing.write(chunk);
          outgoing.end();
        })
        .catch(() => outgoing.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    bodies: () =>
      requests
        .filter((entry) => entry.body !== '')
        .map((entry) => JSON.parse(entry.body) as Record<string, unknown>),
    emulator,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await emulator.close();
    },
  };
}

/** The OpenAI and Azure OpenAI emulators, each behind a recording proxy. */
export async function startOpenAIFamilyClouds(): Promise<{
  openai: RecordedCloud;
  azure: RecordedCloud;
  close(): Promise<void>;
}> {
  const openaiEmulator: Emulator = await startOpenAIEmulator({
    flavor: 'openai',
    apiKey: OPENAI_KEY,
  });
  const azureEmulator: Emulator = await startOpenAIEmulator({ flavor: 'azure', apiKey: AZURE_KEY });
  const openai = await recordingProxy(openaiEmulator.url, openaiEmulator);
  const azure = await recordingProxy(azureEmulator.url, azureEmulator);
  return {
    openai,
    azure,
    close: async () => void (await Promise.all([openai.close(), azure.close()])),
  };
}

/** Provider configs for the two OpenAI-family clouds. */
export function openAIFamilyProviders(clouds: { openai: RecordedCloud; azure: RecordedCloud }) {
  return {
    'openai-direct': {
      type: 'openai' as const,
      partner: 'openai',
      baseUrl: `${clouds.openai.url}/v1`,
      apiKey: OPENAI_KEY,
    },
    'azure-east': {
      type: 'azure-openai' as const,
      partner: 'azure',
      baseUrl: clouds.azure.url,
      apiKey: AZURE_KEY,
      apiVersion: '2024-10-21',
    },
  };
}

/** A model served by exactly one provider. */
export function pinned(provider: string, upstream = 'gpt-4o-mini', contextWindow?: number) {
  return {
    capabilities: ['tools' as const, 'json_schema' as const, 'reasoning' as const],
    ...(contextWindow === undefined ? {} : { contextWindow }),
    deployments: [{ provider, model: upstream }],
  };
}

/** A listening Switchyard. */
export interface RunningApp {
  app: App;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts Switchyard with a master key and two tenant keys (`tenant-a`, `tenant-b`); the store
 * is in-memory SQLite unless `database` (shared by several apps = replicas) is given.
 */
export async function startApp(
  config: ConfigInput,
  options: { database?: Database; clock?: () => number } = {},
): Promise<RunningApp> {
  const validated = validateConfig({
    store: 'sqlite::memory:',
    logging: { level: 'silent' },
    auth: { masterKey: MASTER_KEY },
    partners: { azure: { primary: true }, openai: {}, anthropic: {}, aws: {}, google: {} },
    keys: [
      { key: TENANT_A_KEY, name: 'a', tenant: 'tenant-a', project: 'project-a' },
      { key: TENANT_B_KEY, name: 'b', tenant: 'tenant-b', project: 'project-b' },
    ],
    ...config,
  });
  const app = await createApp({
    config: validated,
    logger: createLogger({ level: 'silent' }),
    ...(options.database ? { database: options.database } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const address = await app.listen(0, '127.0.0.1');
  return { app, url: address.url, close: () => app.close() };
}

/** Parses an SSE body into `{event, data}` pairs. */
export function parseSse(
  text: string,
): Array<{ event: string | undefined; data: Record<string, unknown> }> {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      let event: string | undefined;
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      return { event, data: JSON.parse(data) as Record<string, unknown> };
    });
}

/** POSTs JSON (or sends another method) and reads the whole answer. */
export async function http(
  url: string,
  options: { method?: string; key?: string; body?: unknown } = {},
): Promise<{ status: number; text: string; json: () => any; headers: Record<string, unknown> }> {
  const answer = await request(url, {
    method: (options.method ?? (options.body === undefined ? 'GET' : 'POST')) as 'POST',
    headers: {
      authorization: `Bearer ${options.key ?? TENANT_A_KEY}`,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: options.body === undefined ? null : JSON.stringify(options.body),
  });
  const text = await answer.body.text();
  return { status: answer.statusCode, text, json: () => JSON.parse(text), headers: answer.headers };
}
