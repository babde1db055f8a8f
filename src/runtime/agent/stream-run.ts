import { frame } from '../event-log.js';
import type { ResponseObject } from '../types.js';
import { listingFailure } from './loop/errors.js';
import { runAgent } from './loop/run-agent.js';
import type { RunInputs } from './loop/types.js';

/**
 * Starts a streamed (foreground) run and resolves with its frames once every MCP server was
 * listed, before the SSE headers are sent: an unreadable tool list throws OpenAI's 424 instead
 * of a 200 stream ending in an error event (the events so far are then not sent).
 */
export async function streamRun(
  inputs: RunInputs,
  signal: AbortSignal,
): Promise<AsyncGenerator<string>> {
  const feed: FrameFeed = { pending: [], wake: undefined, finished: false, failure: undefined };
  let result: ResponseObject | undefined;
  let listed: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    listed = resolve;
  });
  runAgent(inputs, {
    signal,
    onEvent: (event) => {
      feed.pending.push(frame(event));
      feed.wake?.();
    },
    onListed: listed,
  })
    .then((response) => {
      result = response;
    })
    .catch((error: unknown) => {
      feed.failure = error;
    })
    .finally(() => {
      feed.finished = true;
      listed();
      feed.wake?.();
    });
  await gate;
  const failure = listingFailure(result);
  if (failure) throw failure;
  return drainFrames(feed);
}

/** The frames of an agent run streamed to its client, as the run produces them. */
interface FrameFeed {
  pending: string[];
  /** Wakes the reader waiting for frames. */
  wake: (() => void) | undefined;
  finished: boolean;
  failure: unknown;
}

/**
 * Yields a run's frames as they come, then its failure if it failed. At module level: a generator
 * function made per call would give each run's generator a hidden class of its own
 * (server/context.ts).
 */
async function* drainFrames(feed: FrameFeed): AsyncGenerator<string> {
  for (;;) {
    if (feed.pending.length > 0) {
      yield feed.pending.splice(0).join('');
      continue;
    }
    if (feed.finished) break;
    await new Promise<void>((resolve) => {
      feed.wake = resolve;
    });
    feed.wake = undefined;
  }
  if (feed.failure) throw feed.failure;
}
