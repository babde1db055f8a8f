import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP pass-through placed in front of an upstream, so a test can see its connections open and
 * close: when the gateway drops a connection, the probe records it and closes the upstream side,
 * which is then exactly what the upstream sees.
 */

/** One proxied connection. */
export interface ProbedConnection {
  openedAt: number;
  /** performance.now() when the first side closed; undefined while open. */
  closedAt?: number;
  /** Which side closed first. */
  closedBy?: 'client' | 'upstream';
  /** Bytes relayed from the upstream to the client. */
  bytesFromUpstream: number;
  /** performance.now() of the last bytes relayed in either direction. */
  lastDataAt?: number;
}

export interface TcpProbe {
  /** `http://127.0.0.1:<port>` */
  url: string;
  connections: ProbedConnection[];
  /** The connection that last relayed bytes (keep-alive connections are reused). */
  lastActive(): ProbedConnection | undefined;
  close(): Promise<void>;
}

/** Starts a probe on a free loopback port, relaying to `127.0.0.1:targetPort`. */
export async function startTcpProbe(targetPort: number): Promise<TcpProbe> {
  const connections: ProbedConnection[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const record: ProbedConnection = { openedAt: performance.now(), bytesFromUpstream: 0 };
    connections.push(record);
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    upstream.on('data', (data: Buffer) => {
      record.bytesFromUpstream += data.length;
      record.lastDataAt = performance.now();
    });
    client.on('data', () => void (record.lastDataAt = performance.now()));
    client.pipe(upstream);
    upstream.pipe(client);
    const closed = (by: 'client' | 'upstream') => () => {
      if (record.closedAt === undefined) {
        record.closedAt = performance.now();
        record.closedBy = by;
      }
      client.destroy();
      upstream.destroy();
    };
    client.on('close', closed('client'));
    upstream.on('close', closed('upstream'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    lastActive: () =>
      connections.reduce<ProbedConnection | undefined>(
        (best, item) => ((item.lastDataAt ?? -1) > (best?.lastDataAt ?? -1) ? item : best),
        undefined,
      ),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
