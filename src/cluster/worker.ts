import { createApp } from '../app.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../telemetry/logger.js';
import { createClusterClient, isMessage } from './ipc.js';

/**
 * One worker of a `server.workers` set: the whole app, listening on the shared port (node:cluster
 * hands it connections), with the primary as its counter owner and, on SQLite, its usage writer.
 * The primary decides when it stops: a `shutdown` message drains it (in-flight requests finish,
 * usage is flushed), then it exits 0. Signals sent to the whole process group (Ctrl-C) are left
 * to the primary, so a drain is not cut short. If the primary disappears, the worker drains and
 * exits too: it could no longer admit requests exactly nor commit usage.
 */
export async function runWorker(options: {
  config: Config;
  logger: Logger;
  port: number;
  host: string;
}): Promise<void> {
  const { logger } = options;
  const client = createClusterClient(process as never);
  const app = await createApp({ config: options.config, logger, cluster: client });
  await app.listen(options.port, options.host);
  let closing = false;
  const close = async (why: string) => {
    if (closing) return;
    closing = true;
    logger.info({ why }, 'worker draining');
    try {
      await app.close();
    } catch (error) {
      logger.error({ err: error }, 'worker close failed');
    }
    process.exit(0);
  };
  process.on('message', (message: unknown) => {
    if (isMessage(message) && message.sy === 'shutdown') void close('shutdown');
  });
  process.on('disconnect', () => void close('primary gone'));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
}
