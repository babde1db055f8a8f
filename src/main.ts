import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { createApp } from './app.js';
import { workerCount } from './cluster/cpus.js';
import { loadConfigFile } from './config/index.js';
import {
  type SandboxClouds,
  sandboxConfig,
  sandboxRoutes,
  startSandboxClouds,
} from './sandbox/preset.js';
import { ExposureError } from './server/exposure.js';
import type { Config } from './config/index.js';
import { createLogger, type Logger } from './telemetry/logger.js';

/** Options of `switchyard serve`. */
export interface ServeOptions {
  config?: string;
  sandbox?: boolean;
  sandboxDown?: string[];
  port?: number;
  host?: string;
  tokenDelayMs?: number;
}

/**
 * Process entry: load the config (or start the sandbox when there is none), create the app,
 * listen, and on SIGTERM/SIGINT run the shutdown sequence (App.shutdown: not ready, still
 * serving for server.shutdownDelayMs, then drain and hand background runs over).
 */
export async function serve(options: ServeOptions): Promise<void> {
  const path =
    options.config ??
    process.env['SWITCHYARD_CONFIG'] ??
    (existsSync('switchyard.yaml') ? 'switchyard.yaml' : undefined);
  let sandbox: SandboxClouds | undefined;
  let config: ReturnType<typeof loadConfigFile>;
  if (path !== undefined && !options.sandbox) {
    config = loadConfigFile(path);
  } else {
    sandbox = await startSandboxClouds({
      tokenDelayMs: options.tokenDelayMs ?? 0,
      down: options.sandboxDown ?? [],
    });
    config = sandboxConfig(sandbox, { masterKey: process.env['SWITCHYARD_MASTER_KEY'] });
  }
  const logger = createLogger({ level: config.logging.level });
  // The sandbox's emulated clouds live in this process, so it always serves from one process.
  const workers = sandbox ? 1 : workerCount(config.server.workers);
  const port = options.port ?? config.server.port;
  const host = options.host ?? config.server.host;
  if (workers > 1) return serveCluster({ config, logger, workers, port, host });
  const masterKey = config.auth.masterKey;
  const app = await createApp({
    config,
    logger,
    ...(sandbox ? { extraRoutes: () => sandboxRoutes(sandbox, masterKey) } : {}),
  });
  let address: { url: string; port: number };
  try {
    address = await app.listen(port, host);
  } catch (error) {
    await app.close();
    await sandbox?.close();
    if (!(error instanceof ExposureError)) throw error;
    // An operator's mistake, not a crash: one line saying what to change, and exit 1.
    logger.fatal(error.message);
    process.stderr.write(`switchyard: ${error.message}\n`);
    process.exit(1);
  }
  const auth = masterKey === undefined ? '' : ` -H "Authorization: Bearer $SWITCHYARD_MASTER_KEY"`;
  const model = app.catalog.all().find((item) => item.config.kind === 'chat')?.name ?? 'MODEL';
  process.stderr.write(
    [
      `Switchyard listening on ${address.url}${sandbox ? ` (sandbox clouds: ${[...sandbox.clouds.keys()].join(', ')})` : ''}`,
      `Try it:`,
      `  curl ${address.url}/v1/chat/completions${auth} -H 'content-type: application/json' \\`,
      `    -d '{"model":"${model}","messages":[{"role":"user","content":"say hello from Switchyard"}]}'`,
      sandbox ? `Take a cloud down:  curl -X POST ${address.url}/sandbox/clouds/azure/down` : '',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      // A second signal: the operator wants out now (runs keep their leases, as after a crash).
      logger.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'draining');
    try {
      await app.shutdown();
      await sandbox?.close();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** `server.workers` > 1: this process is the primary, or one of the workers it forked. */
async function serveCluster(options: {
  config: Config;
  logger: Logger;
  workers: number;
  port: number;
  host: string;
}): Promise<void> {
  const { config, logger } = options;
  if (cluster.isWorker) {
    const { runWorker } = await import('./cluster/worker.js');
    return runWorker(options);
  }
  const { runPrimary } = await import('./cluster/primary.js');
  const primary = await runPrimary({ config, logger, workers: options.workers });
  process.stderr.write(
    `Switchyard listening on http://${options.host}:${primary.port} (${options.workers} workers)\n`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    await primary.stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: restarting the workers one at a time');
    primary.restart().catch((error: unknown) => logger.error({ err: error }, 'restart failed'));
  });
}
