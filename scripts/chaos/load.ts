/**
 * The mixed load of scripts/chaos.ts: request kinds (OpenAI chat and streams, Anthropic
 * Messages; master and virtual keys) and one request's outcome class.
 */

/** One request kind of the mixed load. */
export interface Kind {
  name: string;
  /** Whether it runs with the virtual key (limits and budgets in Redis) or the master key. */
  virtual: boolean;
  path: string;
  body: unknown;
  stream?: boolean;
}
const prompt = 'count from one to five';
export const KINDS: Kind[] = [
  {
    name: 'openai-chat',
    virtual: false,
    path: '/v1/chat/completions',
    body: { model: 'priced', max_tokens: 5, messages: [{ role: 'user', content: prompt }] },
  },
  {
    name: 'openai-chat-vkey',
    virtual: true,
    path: '/v1/chat/completions',
    body: { model: 'priced', max_tokens: 5, messages: [{ role: 'user', content: prompt }] },
  },
  {
    name: 'openai-stream-vkey',
    virtual: true,
    stream: true,
    path: '/v1/chat/completions',
    body: {
      model: 'priced',
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: prompt }],
    },
  },
  {
    name: 'anthropic-messages',
    virtual: false,
    path: '/v1/messages',
    body: { model: 'priced', max_tokens: 5, messages: [{ role: 'user', content: prompt }] },
  },
];

export interface Outcome {
  kind: string;
  klass: string;
  requestId?: string;
  ms: number;
  redisFault: boolean;
}

export async function send(
  port: number,
  kind: Kind,
  key: string,
  redisFault: boolean,
): Promise<Outcome> {
  const started = performance.now();
  const done = (klass: string, requestId?: string): Outcome => ({
    kind: kind.name,
    klass,
    ms: performance.now() - started,
    redisFault,
    ...(requestId && { requestId }),
  });
  try {
    const response = await fetch(`http://127.0.0.1:${port}${kind.path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(kind.body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await response.text();
    const requestId = response.headers.get('x-request-id') ?? undefined;
    if (response.ok) {
      if (kind.stream && !text.includes('data: [DONE]')) return done('stream cut before [DONE]');
      return done('answered', requestId);
    }
    let code = '';
    try {
      const body = JSON.parse(text) as {
        error?: { code?: string; type?: string; message?: string };
        message?: string;
      };
      code = body.error?.code ?? body.error?.type ?? '';
      // 5xx: the message says which fallback answered (limits, store).
      const message = body.error?.message ?? body.message;
      if (response.status >= 500 && message) code += ` (${message.slice(0, 40)})`;
    } catch {
      // not JSON
    }
    return done(`${response.status} ${code}`.trim());
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    if (cause === 'ECONNREFUSED') return done('connection refused (replica restarting)');
    if (cause === 'UND_ERR_SOCKET' || cause === 'ECONNRESET')
      return done('connection reset (replica killed mid-request)');
    return done(`client error: ${(error as Error).name}`);
  }
}
