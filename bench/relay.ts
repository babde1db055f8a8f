import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBuilt, gatewayModule } from './built.js';

/**
 * `npx tsx bench/relay.ts`: the OpenAI stream relay (src/providers/openai/relay.ts) alone, over
 * the burst the fake upstream sends (200 chunk events, the usage chunk and [DONE] in one read,
 * 39 KB): µs per burst, the best of 3 × BENCH_ROUNDS (default 5) rounds of BENCH_ITERATIONS
 * (default 20,000) after as many to warm up, as built (`dist/`). BENCH_BASELINE=<checkout>
 * runs that checkout's built relay in the same process, the two taking turns.
 */

type Relay = typeof import('../src/providers/openai/relay.js');

const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5);
const iterations = Number(process.env['BENCH_ITERATIONS'] ?? 20_000);
const baseline = process.env['BENCH_BASELINE'];

const CREATED = 1_700_000_000;
const chunkEvent = (index: number, last: boolean) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'gpt-bench',
    choices: [
      {
        index: 0,
        delta: index === 0 ? { role: 'assistant', content: 'tok0 ' } : { content: `tok${index} ` },
        logprobs: null,
        finish_reason: last ? 'stop' : null,
      },
    ],
  })}\n\n`;
const usage = `data: ${JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: 'gpt-bench',
  choices: [],
  usage: { prompt_tokens: 14, completion_tokens: 10, total_tokens: 24 },
})}\n\n`;
const burst = Buffer.from(
  `${Array.from({ length: 200 }, (_, index) => chunkEvent(index, index === 199)).join('')}${usage}data: [DONE]\n\n`,
);

async function* oneRead(): AsyncGenerator<Uint8Array> {
  yield burst;
}

async function relayOnce(relay: Relay): Promise<number> {
  let items = 0;
  for await (const _ of relay.relaySse(oneRead(), 'openai', () => true)) items++;
  return items;
}

async function best(relay: Relay): Promise<number> {
  let fastest = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await relayOnce(relay);
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - started) / iterations / 1000);
  }
  return fastest;
}

ensureBuilt();
const targets: Array<[string, Relay]> = [
  ['this checkout', await gatewayModule<Relay>('providers/openai/relay.js')],
];
if (baseline)
  targets.push([
    'baseline',
    (await import(pathToFileURL(join(baseline, 'dist/providers/openai/relay.js')).href)) as Relay,
  ]);
for (const [, relay] of targets) {
  if ((await relayOnce(relay)) !== 2) throw new Error('expected the events and the usage apart');
  for (let i = 0; i < iterations; i++) await relayOnce(relay);
}
console.log(
  `relaySse over one ${burst.length}-byte read of 200 events, µs per burst (best of ${rounds})`,
);
const figures = new Map<string, number>();
for (let round = 0; round < 3; round++)
  for (const [label, relay] of targets)
    figures.set(label, Math.min(figures.get(label) ?? Number.POSITIVE_INFINITY, await best(relay)));
for (const [label, value] of figures) console.log(`${label}: ${value.toFixed(2)} µs`);
