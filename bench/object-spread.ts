import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { copied, merged } from '../src/core/objects.js';

/**
 * `npx tsx bench/object-spread.ts`: what an object literal that starts with a spread and goes on
 * costs on this Node, against the same object made by `merged()` (src/core/objects.ts), for the
 * shapes the request path made: an SSE answer's headers (three route headers, four more), a
 * JSON answer's (two more), two spreads, one more member, and a copy that gets a property
 * afterwards (`copied()`). Nanoseconds per object, the best of
 * BENCH_ROUNDS (default 5) rounds of BENCH_ITERATIONS (default 200,000); each source object is
 * new, as per request. On Node 20 (V8 11) the literal defines each member after the spread
 * through V8's runtime; later V8s may not, and then the two columns meet.
 *
 * A second table: node:http's `writeHead(200, headers)` for an SSE answer's eight headers on a
 * ServerResponse (no socket: the header block is built, nothing is sent), alone and after one
 * `setHeader`, which makes node:http store the others one by one (src/server/response.ts).
 */

const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5);
const iterations = Number(process.env['BENCH_ITERATIONS'] ?? 200_000);

const routeHeaders = (i: number): Record<string, string> => ({
  'x-switchyard-model': 'bench-model',
  'x-switchyard-attempts': String(i & 7),
  'x-switchyard-deployment': 'fake',
});

type Shape = [string, (i: number) => object, (i: number) => object];

const shapes: Shape[] = [
  [
    'SSE headers: { ...route, 4 more }',
    (i) => ({
      ...routeHeaders(i),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    }),
    (i) =>
      merged(routeHeaders(i), {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      }),
  ],
  [
    'JSON headers: { ...route, 2 more }',
    (i) => ({ ...routeHeaders(i), 'content-type': 'application/json', 'content-length': i }),
    (i) => merged(routeHeaders(i), { 'content-type': 'application/json', 'content-length': i }),
  ],
  [
    'two spreads: { ...a, ...b }',
    (i) => ({ ...routeHeaders(i), ...{ skipped: i } }),
    (i) => merged(routeHeaders(i), { skipped: i }),
  ],
  [
    'one more: { ...a, b }',
    (i) => ({ ...routeHeaders(i), model: 'm' }),
    (i) => merged(routeHeaders(i), { model: 'm' }),
  ],
  [
    'copy, then one property added',
    (i) => {
      const copy: Record<string, unknown> = { ...routeHeaders(i) };
      copy['stream_options'] = i;
      return copy;
    },
    (i) => {
      const copy: Record<string, unknown> = copied(routeHeaders(i));
      copy['stream_options'] = i;
      return copy;
    },
  ],
  [
    'copy alone: { ...a } (fast either way)',
    (i) => ({ ...routeHeaders(i) }),
    (i) => routeHeaders(i),
  ],
];

const sink: object[] = new Array(64);
function best(make: (i: number) => object): number {
  let fastest = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink[i & 63] = make(i);
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - started) / iterations);
  }
  return fastest;
}

console.log(
  `Node ${process.version} (V8 ${process.versions.v8}), ns per object, best of ${rounds}`,
);
console.log('| Shape | literal | merged() | × |');
console.log('|---|---:|---:|---:|');
for (const [name, literal, viaMerged] of shapes) {
  const slow = best(literal);
  const fast = best(viaMerged);
  console.log(
    `| ${name} | ${slow.toFixed(0)} | ${fast.toFixed(0)} | ${(slow / fast).toFixed(1)} |`,
  );
}

const request = new IncomingMessage(new Socket());
const sseHeaders = (i: number) =>
  merged(routeHeaders(i), {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
const alone = best((i) => {
  const response = new ServerResponse(request);
  response.writeHead(200, merged(sseHeaders(i), { 'x-request-id': 'req_1' }));
  return response;
});
const afterSetHeader = best((i) => {
  const response = new ServerResponse(request);
  response.setHeader('x-request-id', 'req_1');
  response.writeHead(200, sseHeaders(i));
  return response;
});
console.log('\n| writeHead, eight headers | ns |');
console.log('|---|---:|');
console.log(`| the headers object alone | ${alone.toFixed(0)} |`);
console.log(`| after one setHeader | ${afterSetHeader.toFixed(0)} |`);
