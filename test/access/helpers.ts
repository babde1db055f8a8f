import { Agent, request } from 'undici';

/** Helpers of the access suites: admin and chat calls over real sockets. */

/** Many sockets per origin, so hundreds of requests really run at once. */
export const agent = new Agent({ connections: 1024, keepAliveTimeout: 10_000 });

/** An answer read whole. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** Sends a JSON request and parses the answer. */
export async function send(
  url: string,
  method: 'GET' | 'POST' | 'PATCH',
  key: string | undefined,
  body?: unknown,
): Promise<Answer> {
  const response = await request(url, {
    method,
    dispatcher: agent,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep text
  }
  return {
    status: response.statusCode,
    headers: response.headers as Answer['headers'],
    body: parsed,
  };
}

/** An admin API client bound to a gateway URL and master key. */
export function adminClient(base: string, masterKey: string) {
  const call = async (method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown) => {
    const answer = await send(`${base}/admin/v1${path}`, method, masterKey, body);
    if (answer.status >= 300)
      throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  return {
    call,
    /** Creates a tenant, a project in it and a key in the project, with the given policies. */
    async setup(input: { tenant?: object; project?: object; key?: object } = {}) {
      const tenant = await call('POST', '/tenants', { name: 'tenant', ...input.tenant });
      const project = await call('POST', '/projects', {
        name: 'project',
        tenant_id: tenant.id,
        ...input.project,
      });
      const key = await call('POST', '/keys', {
        project_id: project.id,
        name: 'key',
        ...input.key,
      });
      return { tenant, project, key, secret: key.secret as string };
    },
  };
}

/** A chat request whose answer is exactly `outputTokens` tokens long (the emulator cuts at max_tokens). */
export function chatBody(model: string, outputTokens: number) {
  return {
    model,
    max_tokens: outputTokens,
    messages: [
      {
        role: 'user',
        content:
          'say one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty',
      },
    ],
  };
}

/** POSTs a chat completion with a key. */
export function chat(base: string, key: string, body: unknown): Promise<Answer> {
  return send(`${base}/v1/chat/completions`, 'POST', key, body);
}

/** Counts answers by status. */
export function statusCounts(answers: Answer[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const answer of answers) counts[answer.status] = (counts[answer.status] ?? 0) + 1;
  return counts;
}
