import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A breakable TCP proxy for fault injection in front of Postgres or Redis (the shared servers
 * are never stopped or restarted). Modes:
 * - `forward`: bytes go both ways (normal).
 * - `stall`: new connections are accepted and nothing is forwarded either way; existing
 *   connections stop forwarding too (a hung server or a black-holed network).
 * - `refuse`: the listening socket is closed, so connects get ECONNREFUSED.
 * Cuts: `cutAll()` destroys every connection (a proxy or server restart); `cutWhen(match)`
 * destroys a connection when the client sends bytes that contain `match` (cut inside a query
 * or a transaction). `restore()` goes back to forward (stalled connections are cut, as a
 * failover would, so clients reconnect).
 */
export interface TcpProxy {
  /** `127.0.0.1` port the proxy listens on (stable across refuse/restore). */
  readonly port: number;
  readonly mode: 'forward' | 'stall' | 'refuse';
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open now. */
  readonly open: number;
  /** Rewrites a URL's port (and host) to this proxy's. */
  url(target: string): string;
  stall(): void;
  refuse(): Promise<void>;
  restore(): Promise<void>;
  /** Destroys every open connection (idle or busy). */
  cutAll(): void;
  /**
   * Destroys the next connection whose client sends bytes containing `match` (a query text,
   * `COMMIT`), before those bytes reach the server. Resolves when a cut happened.
   */
  cutWhen(match: string | RegExp): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  server: Socket;
  held: Buffer[];
}

/**
 * Starts a proxy to `target` (`host:port`, or a `postgres://` / `redis://` URL).
 * @example
 * const proxy = await startTcpProxy(await pgTestUrl());
 * const database = await createDatabase(proxy.url(url));
 * proxy.stall(); ... await proxy.restore();
 */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { host, port: targetPort } = parseTarget(target);
  const pairs = new Set<Pair>();
  let mode: TcpProxy['mode'] = 'forward';
  let accepted = 0;
  let port = 0;
  const cuts: Array<{ match: string | RegExp; done: () => void }> = [];

  const destroy = (pair: Pair) => {
    pair.client.destroy();
    pair.server.destroy();
    pairs.delete(pair);
  };

  const onConnection = (client: Socket) => {
    accepted++;
    const server = createConnection({ host, port: targetPort });
    const pair: Pair = { client, server, held: [] };
    pairs.add(pair);
    client.on('error', () => destroy(pair));
    server.on('error', () => destroy(pair));
    client.on('close', () => destroy(pair));
    server.on('close', () => destroy(pair));
    client.on('data', (chunk: Buffer) => {
      if (mode === 'stall') return; // swallowed, as a black hole would
      const text = chunk.toString('latin1');
      const index = cuts.findIndex((cut) =>
        typeof cut.match === 'string' ? text.includes(cut.match) : cut.match.test(text),
      );
      if (index !== -1) {
        const [cut] = cuts.splice(index, 1);
        destroy(pair);
        cut!.done();
        return;
      }
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      if (mode === 'stall') return;
      client.write(chunk);
    });
  };

  let listener: Server = createServer(onConnection);
  const listen = (server: Server, at: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as { port: number }).port);
      });
    });
  port = await listen(listener, 0);

  const closeListener = () =>
    new Promise<void>((resolve) =>
      listener.listening ? listener.close(() => resolve()) : resolve(),
    );

  const cutAll = () => {
    for (const pair of [...pairs]) destroy(pair);
  };

  return {
    get port() {
      return port;
    },
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    url(url: string) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    stall() {
      mode = 'stall';
    },
    async refuse() {
      mode = 'refuse';
      cutAll();
      await closeListener();
    },
    async restore() {
      const was = mode;
      mode = 'forward';
      if (was === 'stall') cutAll();
      if (!listener.listening) {
        listener = createServer(onConnection);
        // The same port, so clients reconnect to where they were; retry while the OS frees it.
        for (let attempt = 0; ; attempt++) {
          try {
            await listen(listener, port);
            break;
          } catch (error) {
            if (attempt > 50) throw error;
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      }
    },
    cutAll,
    cutWhen(match) {
      return new Promise<void>((resolve) => cuts.push({ match, done: resolve }));
    },
    async close() {
      cutAll();
      await closeListener();
    },
  };
}

function parseTarget(target: string): { host: string; port: number } {
  if (target.includes('://')) {
    const url = new URL(target);
    const fallback = url.protocol.startsWith('redis') ? 6379 : 5432;
    return { host: url.hostname || '127.0.0.1', port: Number(url.port || fallback) };
  }
  const [host, port] = target.split(':');
  return { host: host || '127.0.0.1', port: Number(port) };
}
