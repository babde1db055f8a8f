import {
  createServer as createHttp1Server,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';

const H2_PREFACE = 'PRI * HTTP/2.0';

/** Listens on loopback with HTTP/1.1 and h2c (prior knowledge) on one port: the first bytes pick the parser. */
export async function listenH1AndH2c(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
) {
  const http1 = createHttp1Server(handler);
  const http2 = createHttp2Server({}, handler as never);
  const sockets = new Set<Socket>();
  const net = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('readable', () => {
      const head: Buffer | null = socket.read();
      if (head) socket.unshift(head);
      (head?.toString('latin1', 0, H2_PREFACE.length) === H2_PREFACE ? http2 : http1).emit(
        'connection',
        socket,
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = net.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        net.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
