import { request } from 'undici';
import { merged } from '../core/objects.js';

/** Where the admin commands send requests, and with which key. */
/**
 * The admin API's JSON as the server sends it. The CLI only formats it (the server validated it),
 * so it is read without a schema of its own.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type AdminJson = any;

export interface AdminTarget {
  /** Switchyard base URL. Default `$SWITCHYARD_URL`, else `http://127.0.0.1:8080`. */
  url: string;
  /** The master key (`$SWITCHYARD_MASTER_KEY`); may be absent for a loopback server without one. */
  key: string | undefined;
}

/** A refused admin request: the server's error message and status. */
export class AdminError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/** Resolves `--url` / `--key` against the environment. */
export function adminTarget(
  options: { url?: string | undefined; key?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): AdminTarget {
  return {
    url: (options.url ?? env['SWITCHYARD_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
    key: options.key ?? env['SWITCHYARD_MASTER_KEY'],
  };
}

/** Calls `/admin/v1<path>` and returns the parsed JSON; throws {@link AdminError} on an error status. */
export async function adminRequest(
  target: AdminTarget,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  body?: unknown,
): Promise<AdminJson> {
  const response = await request(`${target.url}/admin/v1${path}`, {
    method,
    headers: merged(
      target.key ? { authorization: `Bearer ${target.key}` } : {},
      body === undefined ? {} : { 'content-type': 'application/json' },
    ),
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.body.text();
  let parsed: AdminJson;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (response.statusCode >= 400) {
    const message =
      typeof parsed === 'object' && parsed?.error?.message ? parsed.error.message : text;
    throw new AdminError(`${response.statusCode}: ${message}`, response.statusCode);
  }
  return parsed;
}
