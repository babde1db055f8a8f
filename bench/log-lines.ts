import { pino } from 'pino';
import { LineBatcher, plainLogger } from '../src/telemetry/logger.js';

/**
 * `npx tsx bench/log-lines.ts`: process CPU per request line (pino's serialisation and the
 * write to /dev/null through libuv's thread pool, every thread counted), for sonic-boom batching
 * by itself (`minLength` 4 KiB, what the gateway used before) against the gateway's
 * {@link LineBatcher} (16 KiB handed over at a time). Lines are logged 10 per macrotask, as a
 * loaded gateway ends requests. BENCH_LINES (default 300,000) per measurement, two rounds.
 */
const lines = Number(process.env['BENCH_LINES'] ?? 300_000);
const fields = {
  requestId: 'req_0SzT4bQxabcdefghijklmnop',
  traceId: 'a'.repeat(32),
  method: 'POST',
  path: '/v1/chat/completions',
  status: 200,
  ms: 3.21,
  model: 'gpt-bench',
  deployment: 'openai',
  attempts: 1,
};

async function measure(name: string, destination: pino.DestinationStream): Promise<void> {
  const logger = plainLogger(pino({ level: 'info', base: { service: 'switchyard' } }, destination));
  for (let i = 0; i < 20_000; i++) logger.info(fields, 'request');
  const start = process.cpuUsage();
  for (let i = 0; i < lines; i += 10) {
    for (let j = 0; j < 10; j++) logger.info(fields, 'request');
    await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const used = process.cpuUsage(start);
  process.stdout.write(
    `${name.padEnd(28)} ${((used.user + used.system) / lines).toFixed(2)} µs of CPU per line\n`,
  );
}

const devNull = (minLength?: number) =>
  pino.destination({ dest: '/dev/null', sync: false, ...(minLength && { minLength }) });
for (let round = 0; round < 2; round++) {
  await measure('sonic-boom, minLength 4 KiB', devNull(4096));
  const batcher = new LineBatcher(devNull());
  const timer = setInterval(() => batcher.hand(), 100);
  await measure('LineBatcher, 16 KiB', batcher);
  clearInterval(timer);
}
process.exit(0);
