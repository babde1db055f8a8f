import { Writable } from 'node:stream';
import { request } from 'undici';
import { type App, createApp } from '../../src/app.js';
import { type ConfigInput, validateConfig } from '../../src/config/index.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { createLogger, type Logger } from '../../src/telemetry/logger.js';

/**
 * Starting a real Switchyard (createApp + listen on a free loopback port) for end-to-end tests,
 * the emulated clouds it routes to, and small HTTP helpers over undici.
 */

/** A listening gateway. */
export interface RunningGateway {
  app: App;
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Options of {@link startGateway}. */
export interface StartGatewayOptions {
  /** Default: a silent logger. */
  logger?: Logger;
  /** Default 127.0.0.1. */
  host?: string;
}

/**
 * Validates `config` (store defaults to `sqlite::memory:`, logging to silent), creates the app
 * and listens on port 0.
 * @example
 * const gateway = await startGateway({ providers: {...}, models: {...} });
 * await fetch(gateway.url + '/healthz');
 */
export async function startGateway(
  config: ConfigInput,
  options: StartGatewayOptions = {},
): Promise<RunningGateway> {
  const validated = validateConfig({
    store: 'sqlite::memory:',
    logging: { level: 'silent' },
    ...config,
  });
  const logger = options.logger ?? createLogger({ level: 'silent' });
  const app = await createApp({ config: validated, logger });
  try {
    const address = await app.listen(0, options.host ?? '127.0.0.1');
    const url = options.host === '0.0.0.0' ? `http://127.0.0.1:${address.port}` : address.url;
    return { app, url, port: address.port, close: () => app.close() };
  } catch (error) {
    await app.close();
    throw error;
  }
}

/** The two emulated clouds with the keys they require. */
export interface Clouds {
  openai: Emulator;
  azure: Emulator;
  close(): Promise<void>;
}

export const OPENAI_KEY = 'sk-emulated-openai-0123456789';
export const AZURE_KEY = 'azure-emulated-key-0123456789';

/** Starts an OpenAI and an Azure OpenAI emulator on loopback. */
export async function startClouds(options: { tokenDelayMs?: number } = {}): Promise<Clouds> {
  const tokenDelayMs = options.tokenDelayMs ?? 0;
  const openai = await startOpenAIEmulator({ flavor: 'openai', apiKey: OPENAI_KEY, tokenDelayMs });
  const azure = await startOpenAIEmulator({ flavor: 'azure', apiKey: AZURE_KEY, tokenDelayMs });
  return {
    openai,
    azure,
    close: async () => void (await Promise.all([openai.close(), azure.close()])),
  };
}

/** Provider configs pointing at the emulators, one per OpenAI-family provider type. */
export function cloudProviders(clouds: Clouds) {
  return {
    openai: {
      type: 'openai',
      partner: 'openai',
      baseUrl: `${clouds.openai.url}/v1`,
      apiKey: OPENAI_KEY,
    },
    'azure-classic': {
      type: 'azure-openai',
      partner: 'azure',
      baseUrl: clouds.azure.url,
      apiKey: AZURE_KEY,
      apiVersion: '2024-10-21',
    },
    'azure-v1': {
      type: 'azure-openai',
      partner: 'azure',
      baseUrl: clouds.azure.url,
      apiKey: AZURE_KEY,
    },
    compatible: {
      type: 'openai-compatible',
      baseUrl: `${clouds.openai.url}/v1`,
      apiKey: OPENAI_KEY,
    },
  } as const;
}

/** An answer read whole. */
export interface JsonAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or the raw text when it is not JSON. */
  body: any;
  text: string;
}

/** Sends one request with undici and reads the whole answer. */
export async function call(
  url: string,
  options: {
    method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
    body?: unknown;
    headers?: Record<string, string>;
  } = {},
): Promise<JsonAnswer> {
  const hasBody = options.body !== undefined;
  const response = await request(url, {
    method: options.method ?? (hasBody ? 'POST' : 'GET'),
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...options.headers },
    body: !hasBody
      ? null
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body),
  });
  const text = await response.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return {
    status: response.statusCode,
    headers: response.headers as JsonAnswer['headers'],
    body,
    text,
  };
}

/** A pino-compatible destination that keeps every line in memory. */
export function memoryDestination(): { stream: Writable; text(): string } {
  const parts: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      parts.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => parts.join('') };
}

/** Polls `check` until it returns a value other than undefined (default 2 s). */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 2000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
