import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { type App, createApp } from '../../src/app.js';
import { type ConfigInput, validateConfig } from '../../src/config/index.js';
import { createLogger, type Logger } from '../../src/telemetry/logger.js';
import { type Clouds, cloudProviders, startClouds } from '../helpers/gateway.js';

/** A gateway over the OpenAI and Azure emulators, Azure primary, with telemetry settings to vary. */
export interface TelemetryGateway {
  app: App;
  url: string;
  clouds: Clouds;
  spans: InMemorySpanExporter;
  close(): Promise<void>;
}

/** The config the telemetry tests share: one chat model on Azure then OpenAI, prices and costs set. */
export function telemetryConfig(clouds: Clouds, extra: Partial<ConfigInput> = {}): ConfigInput {
  const providers = cloudProviders(clouds);
  return {
    store: 'sqlite::memory:',
    logging: { level: 'silent' },
    auth: { masterKey: 'sk-master-telemetry-0000' },
    partners: { azure: { primary: true }, openai: {} },
    providers: { azure: providers['azure-classic'], openai: providers.openai },
    models: {
      'gpt-4o-mini': {
        price: { input: '0.15', output: '0.60' },
        deployments: [
          { provider: 'azure', model: 'gpt-4o-mini', cost: { input: '0.10', output: '0.40' } },
          { provider: 'openai', model: 'gpt-4o-mini' },
        ],
      },
    },
    ...extra,
  };
}

/** Starts the emulators and a gateway with an in-memory span exporter. */
export async function startTelemetryGateway(
  extra: Partial<ConfigInput> = {},
  options: { logger?: Logger; withExporter?: boolean } = {},
): Promise<TelemetryGateway> {
  const clouds = await startClouds();
  const spans = new InMemorySpanExporter();
  const config = validateConfig(telemetryConfig(clouds, extra));
  const app = await createApp({
    config,
    logger: options.logger ?? createLogger({ level: 'silent' }),
    ...(options.withExporter === false ? {} : { spanExporter: spans }),
  });
  const address = await app.listen(0, '127.0.0.1');
  return {
    app,
    url: address.url,
    clouds,
    spans,
    async close() {
      await app.close();
      await clouds.close();
    },
  };
}

export const MASTER = { authorization: 'Bearer sk-master-telemetry-0000' };
