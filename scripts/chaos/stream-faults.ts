import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { type FakeStep, type FakeUpstream, startFakeUpstream } from '../../test/fakes/upstream.js';
import type { Rig } from './rig.js';

/**
 * Upstream streams that break mid-answer, as chaos steps: a fake OpenAI upstream (model
 * `faulty`) that sends "Hello world" and then ends without its terminal event (truncated),
 * goes silent (stalled; the model's streamIdleTimeoutMs cuts it) or resets the connection. The
 * client must get an error event and no `[DONE]`; the usage row (checked at the end, straight
 * from Postgres) must be an `error` carrying the tokens forwarded.
 */

export const FAULTS = ['truncated', 'stalled', 'reset'] as const;
export type StreamFault = (typeof FAULTS)[number];
const FORWARDED = 'Hello world';
export const EXPECTED_CODE: Record<StreamFault, string> = {
  truncated: 'upstream_bad_response',
  stalled: 'upstream_timeout',
  reset: 'upstream_unreachable',
};
/** The `faulty` model's idle timeout between stream events, ms. */
export const STREAM_IDLE_TIMEOUT_MS = 1_000;

function chunk(delta: object): string {
  const body = {
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: null }],
  };
  return `data: ${JSON.stringify(body)}\n\n`;
}

const CONTENT = [
  chunk({ role: 'assistant', content: '' }),
  chunk({ content: 'Hello' }),
  chunk({ content: ' world' }),
];

/** The fake upstream; the fault is named in the request's user message (`FAULT <name>`). */
export async function startFaultyUpstream(): Promise<FakeUpstream> {
  const upstream = await startFakeUpstream();
  upstream.script((request): FakeStep => {
    const fault = /FAULT (\w+)/.exec(request.body)?.[1] as StreamFault | undefined;
    if (fault === 'stalled') return { chunks: CONTENT, stallAfterChunks: CONTENT.length };
    if (fault === 'reset') return { chunks: CONTENT, resetAfterChunks: CONTENT.length };
    return { chunks: CONTENT };
  });
  return upstream;
}

/** A stream fault to check at the end: its request id and what its usage row must say. */
export interface PendingRow {
  fault: StreamFault;
  requestId: string;
}

/**
 * One streamed chat request to `faulty` breaking with `fault`: 200, an error event last, no
 * `[DONE]`, only the forwarded text. Returns the request id for the usage-row check.
 */
export async function streamFault(
  rig: Rig,
  index: number,
  fault: StreamFault,
): Promise<PendingRow | undefined> {
  const replica = await rig.live(index);
  const response = await fetch(`${replica.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${rig.master}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'faulty',
      stream: true,
      messages: [{ role: 'user', content: `FAULT ${fault}` }],
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const requestId = response.headers.get('x-request-id') ?? '';
  const events = [...text.matchAll(/^data: (.*)$/gm)].map((match) => match[1]!);
  const last = events.at(-1) ?? '';
  const forwarded = events
    .filter((data) => data.startsWith('{') && !data.includes('"error"'))
    .map((data) => {
      const parsed = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }> };
      return parsed.choices?.[0]?.delta?.content ?? '';
    })
    .join('');
  const ok =
    response.status === 200 &&
    last.includes('"error"') &&
    !text.includes('data: [DONE]') &&
    forwarded === FORWARDED;
  rig.check(
    `upstream stream ${fault} mid-answer`,
    ok,
    `status ${response.status}, forwarded ${JSON.stringify(forwarded)}, last event ${last.slice(0, 90)}, [DONE] ${text.includes('data: [DONE]') ? 'sent' : 'not sent'}`,
  );
  return requestId ? { fault, requestId } : undefined;
}

/** Checks the usage rows of the stream faults: `error`, the fault's code, the forwarded tokens. */
export async function checkStreamRows(rig: Rig, pending: PendingRow[]): Promise<void> {
  const expectedTokens = countTokens(FORWARDED);
  for (const { fault, requestId } of pending) {
    const { rows } = await rig.pg.query<{
      status: string;
      error_code: string | null;
      output_tokens: string;
    }>('select status, error_code, output_tokens from usage_events where request_id = $1', [
      requestId,
    ]);
    const row = rows[0];
    rig.check(
      `usage row of the ${fault} stream`,
      row !== undefined &&
        row.status === 'error' &&
        row.error_code === EXPECTED_CODE[fault] &&
        Number(row.output_tokens) === expectedTokens,
      row
        ? `status ${row.status}, error_code ${row.error_code}, output_tokens ${row.output_tokens} (forwarded ${expectedTokens})`
        : `no row for ${requestId}`,
    );
  }
}
