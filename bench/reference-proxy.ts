import { createServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { processStats, profilerHandlers, serveIpc } from './ipc.js';

/**
 * The reference point for "gateway overhead": the least a metering OpenAI proxy on Node can do,
 * wired like Switchyard (a net server handing sockets to node:http, TCP_NODELAY, one undici
 * Agent): read and parse the client's JSON, set `model`, forward it, read and parse the answer
 * (usage has to be read), send the upstream bytes back. No auth, routing, store or telemetry.
 * What Switchyard costs beyond this is its own; what this costs over direct is Node's floor.
 *
 * Environment: BENCH_UPSTREAM_URL (required).
 */

// tsx turns on source-mapped stack traces; production runs dist/ without them, and formatting a
// stack through source maps (Node streams read `.stack` when destroyed with an error) costs far
// more. BENCH_SOURCE_MAPS=1 keeps them.
if (process.env['BENCH_SOURCE_MAPS'] !== '1') process.setSourceMapsEnabled(false);

const upstream = process.env['BENCH_UPSTREAM_URL'];
if (!upstream) throw new Error('BENCH_UPSTREAM_URL is required');
const target = `${upstream}/v1/chat/completions`;
const agent = new Agent({ connections: 1024 });

const http = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (incoming, response) => {
  void (async () => {
    const parts: Buffer[] = [];
    for await (const part of incoming) parts.push(part as Buffer);
    const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
    body['model'] = 'gpt-bench';
    const answer = await request(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      dispatcher: agent,
    });
    if (body['stream'] === true) {
      response.writeHead(answer.statusCode, { 'content-type': 'text/event-stream' });
      for await (const chunk of answer.body)
        if (!response.write(chunk)) await new Promise((resolve) => response.once('drain', resolve));
      response.end();
      return;
    }
    const text = await answer.body.text();
    JSON.parse(text);
    response.writeHead(answer.statusCode, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    response.end(text);
  })().catch(() => response.destroy());
});
const net = createNetServer({ noDelay: true }, (socket) => http.emit('connection', socket));
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
net.listen(0, '127.0.0.1', () => {
  const { port } = net.address() as AddressInfo;
  serveIpc(`http://127.0.0.1:${port}`, {
    stats: (message) => processStats(message['gc'] === true),
    // The same profiler as the gateway's, so the two can be compared function by function.
    ...profilerHandlers(),
    'loop-delay'() {
      const figures = {
        p50: loopDelay.percentile(50) / 1e6,
        p99: loopDelay.percentile(99) / 1e6,
        max: loopDelay.max / 1e6,
      };
      loopDelay.reset();
      return figures;
    },
    shutdown() {
      setImmediate(() => process.exit(0));
      return {};
    },
  });
});
