import { HttpError } from './openai-wire.js';

/**
 * An emulated Azure provisioned (PTU) deployment's capacity: tokens per minute over a sliding
 * 60 s window. As Azure does, a request is admitted against an estimate (prompt tokens plus the
 * `max_tokens` it asks for) and the window is then corrected to the tokens really used
 * (https://learn.microsoft.com/azure/ai-foundry/openai/how-to/quota: the rate limit is taken
 * from the prompt estimate and max_tokens when the request arrives). A request whose estimate
 * does not fit gets 429 with `retry-after-ms`, `retry-after` and `x-ratelimit-*` headers.
 */

const WINDOW_MS = 60_000;

interface Entry {
  at: number;
  tokens: number;
}

/** One deployment's window. */
export interface PtuWindow {
  readonly tpm: number;
  /** Admits `estimate` tokens now or throws the 429; returns the entry to correct later. */
  admit(estimate: number): Entry;
  /** Replaces an admitted estimate by the tokens really used. */
  settle(entry: Entry, used: number): void;
  /** Tokens left in the window now. */
  remaining(): number;
  /** Headers Azure sends with every answer of the deployment. */
  headers(): Record<string, string>;
}

/** Creates a window of `tpm` tokens per minute; `now` is injectable for tests. */
export function createPtuWindow(tpm: number, now: () => number = Date.now): PtuWindow {
  const entries: Entry[] = [];
  let total = 0;
  const prune = (at: number) => {
    while (entries.length > 0 && entries[0]!.at <= at - WINDOW_MS) total -= entries.shift()!.tokens;
  };
  const remaining = () => {
    prune(now());
    return Math.max(0, tpm - total);
  };
  return {
    tpm,
    admit(estimate) {
      const at = now();
      prune(at);
      if (total + estimate > tpm) {
        // The oldest entries whose departure leaves room for this estimate.
        let left = total;
        let wait = WINDOW_MS;
        for (const entry of entries) {
          left -= entry.tokens;
          if (left + estimate <= tpm) {
            wait = Math.max(1, entry.at + WINDOW_MS - at);
            break;
          }
        }
        throw ptuExceeded(tpm, Math.max(0, tpm - total), wait);
      }
      const entry = { at, tokens: estimate };
      entries.push(entry);
      total += estimate;
      return entry;
    },
    settle(entry, used) {
      if (!entries.includes(entry)) return;
      total += used - entry.tokens;
      entry.tokens = used;
    },
    remaining,
    headers() {
      return {
        'x-ratelimit-limit-tokens': String(tpm),
        'x-ratelimit-remaining-tokens': String(remaining()),
      };
    },
  };
}

/** Azure's 429 for a provisioned deployment over its capacity. */
function ptuExceeded(tpm: number, remaining: number, waitMs: number): HttpError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new HttpError(
    429,
    {
      error: {
        code: '429',
        message: `Requests to the ChatCompletions_Create Operation have exceeded the provisioned throughput of this deployment (${tpm} tokens per minute). Please retry after ${seconds} seconds.`,
      },
    },
    {
      'retry-after-ms': String(Math.ceil(waitMs)),
      'retry-after': String(seconds),
      'x-ratelimit-limit-tokens': String(tpm),
      'x-ratelimit-remaining-tokens': String(remaining),
      'x-ratelimit-remaining-requests': '0',
    },
  );
}
