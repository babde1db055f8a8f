import { connect } from 'node:net';
import { call, type Rig, sleep } from './rig.js';

/**
 * Client faults of issue 16 as chaos steps: a client sending its headers at 1 byte/s, one
 * sending its body at 1 byte/s, and JSON nested far too deep (which once answered 502 and
 * opened breakers for everyone).
 */

/** The server limits the chaos run configures (short, so a slow client is cut within the run). */
export const CLIENT_LIMITS = { headersTimeoutMs: 2_000, bodyIdleTimeoutMs: 500 };
/** Slack over a deadline for the server's check interval and a loaded event loop, ms. */
const SLACK_MS = 2_000;

/**
 * Writes `head` then `body` to a raw socket, `body` (or `head` when `trickleHead`) at 1 byte/s,
 * until the server closes. Resolves what came back, bytes trickled, and when the close came
 * (ms from the first trickled byte).
 */
function trickle(
  port: number,
  head: string,
  body: string,
  trickleHead: boolean,
): Promise<{ answer: string; sent: number; total: number; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const slow = trickleHead ? head + body : body;
    let answer = '';
    let sent = 0;
    let began = 0;
    let closed = false;
    socket.on('data', (data) => {
      answer += data.toString('latin1');
    });
    socket.on('error', () => {});
    socket.setTimeout(60_000, () => socket.destroy());
    socket.once('close', () => {
      closed = true;
      resolve({ answer, sent, total: slow.length, closedAfterMs: performance.now() - began });
    });
    socket.once('connect', async () => {
      if (!trickleHead) socket.write(head);
      began = performance.now();
      for (const char of slow) {
        if (closed || socket.destroyed) return;
        socket.write(char);
        sent++;
        await sleep(1_000);
      }
    });
  });
}

const chatBody = JSON.stringify({
  model: 'priced',
  max_tokens: 5,
  messages: [{ role: 'user', content: 'count from one to five, slowly' }],
});

function chatHead(rig: Rig, length: number): string {
  return (
    'POST /v1/chat/completions HTTP/1.1\r\nhost: chaos\r\n' +
    `authorization: Bearer ${rig.master}\r\ncontent-type: application/json\r\n` +
    `content-length: ${length}\r\n\r\n`
  );
}

/** Headers at 1 byte/s: disconnected (408 or closed) within the header timeout. */
export async function slowHeaders(rig: Rig, index: number): Promise<void> {
  const replica = await rig.live(index);
  const seen = await trickle(replica.port, chatHead(rig, chatBody.length), chatBody, true);
  const limit = CLIENT_LIMITS.headersTimeoutMs + SLACK_MS;
  rig.check(
    'slow client: headers at 1 byte/s',
    seen.sent < seen.total && seen.closedAfterMs <= limit,
    `closed after ${(seen.closedAfterMs / 1000).toFixed(1)} s, ${seen.sent} of ${seen.total} bytes sent, answer ${firstLine(seen.answer)} (header timeout ${CLIENT_LIMITS.headersTimeoutMs} ms)`,
  );
}

/**
 * A body at 1 byte/s (gaps longer than the body idle timeout): cut off within the idle timeout,
 * never answered 2xx (HTTP/1.1 closes the connection; the 408 is written when it still can be).
 */
export async function slowBody(rig: Rig, index: number): Promise<void> {
  const replica = await rig.live(index);
  const seen = await trickle(replica.port, chatHead(rig, chatBody.length), chatBody, false);
  rig.check(
    'slow client: body at 1 byte/s',
    seen.sent < seen.total &&
      !/^HTTP\/1\.1 2/.test(seen.answer) &&
      seen.closedAfterMs <= CLIENT_LIMITS.bodyIdleTimeoutMs + SLACK_MS,
    `answer ${firstLine(seen.answer)} after ${(seen.closedAfterMs / 1000).toFixed(1)} s, ${seen.sent} of ${seen.total} body bytes sent (body idle timeout ${CLIENT_LIMITS.bodyIdleTimeoutMs} ms)`,
  );
}

/**
 * JSON nested 100,000 deep (OpenAI chat) and a tool schema nested 5,000 deep (Anthropic
 * Messages): 400 json_too_deep on each, and the breakers of the model stay closed.
 */
export async function nestedJson(rig: Rig, index: number): Promise<void> {
  const replica = await rig.live(index);
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const chat = `{"model":"priced","messages":[{"role":"user","content":${deep(100_000)}}]}`;
  let schema = '{"type":"string"}';
  for (let i = 0; i < 5_000; i++) schema = `{"type":"object","properties":{"x":${schema}}}`;
  const messages = `{"model":"priced","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"t","input_schema":${schema}}]}`;
  const answers: string[] = [];
  let ok = true;
  for (const [path, body] of [
    ['/v1/chat/completions', chat],
    ['/v1/messages', messages],
  ] as const) {
    // Several times: a few such requests used to open the breaker for everyone.
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${replica.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rig.master}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      const good = response.status === 400 && /json_too_deep|nested deeper/.test(text);
      ok &&= good;
      if (i === 0 || !good) answers.push(`${path} ${response.status} ${codeOf(text)}`);
    }
  }
  const breakers = await breakerStates(rig, index);
  const priced = breakers.filter((line) => line.startsWith('priced/'));
  rig.check(
    'nested JSON (100,000 deep; tool schema 5,000 deep), 3 times each',
    ok && priced.length > 0 && priced.every((line) => line.endsWith(' closed')),
    `${answers.join(', ')}; breakers afterwards: ${priced.join(', ')}`,
  );
}

/** `model/deployment state` for every deployment, read from /admin/v1/routing of a replica. */
export async function breakerStates(rig: Rig, index: number): Promise<string[]> {
  const replica = await rig.live(index);
  const view = await call(`${replica.url}/admin/v1/routing`, { key: rig.master });
  if (view.status !== 200) return [`routing view answered ${view.status}`];
  const body = JSON.parse(view.text) as {
    data: Array<{ model: string; deployments: Array<{ key: string; breaker: string }> }>;
  };
  return body.data.flatMap((model) =>
    model.deployments.map((deployment) => `${model.model}/${deployment.key} ${deployment.breaker}`),
  );
}

function firstLine(answer: string): string {
  return answer === '' ? '(none)' : JSON.stringify(answer.split('\r\n')[0]);
}

function codeOf(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; type?: string } };
    return body.error?.code ?? body.error?.type ?? '';
  } catch {
    return text.slice(0, 40);
  }
}
