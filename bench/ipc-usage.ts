import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Channel, createClusterClient, serveWorker } from '../src/cluster/ipc.js';
import { usageEvent } from '../test/billing/fixtures/events.js';

/**
 * `npx tsx bench/ipc-usage.ts`: what a usage event costs to cross node:cluster's IPC channel
 * (`serialization: 'advanced'`, as `server.workers` uses) from a worker to the primary and back,
 * by how many events share one message (BENCH_BATCHES, default 1,10,20). The primary's side
 * answers at once (no store): only the channel is measured. Prints the CPU per event of each
 * side (user + system, over BENCH_EVENTS events, default 20,000, after a warm-up).
 */
const batches = (process.env['BENCH_BATCHES'] ?? '1,10,20').split(',').map(Number);
const total = Number(process.env['BENCH_EVENTS'] ?? 20_000);

if (process.argv[2] === 'primary') {
  let since = process.cpuUsage();
  serveWorker(process as unknown as Channel, 1, {
    'usage.recordMany': (_worker: number, events: unknown[]) =>
      events.map(() => ({ ok: true, value: { status: 'recorded' } })),
    'cpu.reset': () => {
      since = process.cpuUsage();
      return null;
    },
    'cpu.read': () => {
      const used = process.cpuUsage(since);
      return used.user + used.system;
    },
  } as never);
} else {
  const primary = fork(fileURLToPath(import.meta.url), ['primary'], {
    serialization: 'advanced',
    execArgv: ['--import', 'tsx'],
  });
  const client = createClusterClient(primary as unknown as Channel);
  const event = usageEvent();
  const run = async (batch: number, events: number) => {
    const calls: Array<Promise<unknown>> = [];
    for (let sent = 0; sent < events; sent += batch) {
      calls.push(client.call('usage.recordMany', [Array.from({ length: batch }, () => event)]));
      // Twenty requests in flight, as at 20 connections.
      if (calls.length * batch >= 20) await Promise.all(calls.splice(0));
    }
    await Promise.all(calls);
  };
  process.stdout.write(
    '| events per message | worker CPU per event (µs) | primary CPU per event (µs) |\n',
  );
  process.stdout.write('|---:|---:|---:|\n');
  for (const batch of batches) {
    await run(batch, 2_000);
    await client.call('cpu.reset', []);
    const start = process.cpuUsage();
    await run(batch, total);
    const used = process.cpuUsage(start);
    const primaryMicros = await client.call<number>('cpu.read', []);
    process.stdout.write(
      `| ${batch} | ${((used.user + used.system) / total).toFixed(1)} | ${(primaryMicros / total).toFixed(1)} |\n`,
    );
  }
  primary.kill();
}
