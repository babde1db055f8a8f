import type { AccessLedger, SpendEntry } from '../store/index.js';
import { merged } from '../core/objects.js';

/**
 * Group commit of budget spend. Settles arriving in the same turn of the event loop are merged
 * per bucket and written as one statement; each caller's promise resolves when the write that
 * holds its spend has committed, so nothing is acknowledged before it is durable. Under load
 * this turns hundreds of single-row upserts (each fighting for the same hot row) into one.
 */
export interface SpendWriter {
  add(entries: SpendEntry[]): Promise<void>;
}

/** Creates a {@link SpendWriter} over the ledger. */
export function createSpendWriter(ledger: Pick<AccessLedger, 'addSpend'>): SpendWriter {
  let pending = new Map<string, SpendEntry>();
  let batch: Promise<void> | undefined;
  let writing: Promise<void> = Promise.resolve();

  const flush = async (entries: SpendEntry[]) => {
    // One write at a time: the next batch starts when this one has committed.
    await writing.catch(() => undefined);
    await ledger.addSpend(entries);
  };

  return {
    add(entries) {
      for (const entry of entries) {
        if (entry.amount <= 0n) continue;
        const key = `${entry.scope}@${entry.periodStart}`;
        const held = pending.get(key);
        pending.set(
          key,
          held ? merged(held, { amount: held.amount + entry.amount }) : { ...entry },
        );
      }
      if (!batch) {
        batch = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
          const entries = [...pending.values()];
          pending = new Map();
          batch = undefined;
          writing = flush(entries);
          return writing;
        });
      }
      return batch;
    },
  };
}
