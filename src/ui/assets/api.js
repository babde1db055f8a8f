// @ts-check
/** The dashboard's API client: every call carries the key kept in sessionStorage. */

const KEY = 'switchyard.key';

export const session = {
  /** @returns {string | null} */
  get key() {
    return sessionStorage.getItem(KEY);
  },
  /** @param {string} key */
  set(key) {
    sessionStorage.setItem(KEY, key);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

/** An API error with the server's message. */
export class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Called when the key is refused (the app shows the login page). */
let onUnauthorized = () => {};
/** @param {() => void} handler */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/**
 * Calls the API and returns parsed JSON (or the Response when `raw`).
 * @param {string} path
 * @param {{ method?: string, body?: unknown, raw?: boolean, key?: string }} [options]
 * @returns {Promise<any>}
 */
export async function api(path, options = {}) {
  const key = options.key ?? session.key;
  /** @type {Record<string, string>} */
  const headers = {};
  if (key) headers['authorization'] = `Bearer ${key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (response.status === 401 && !options.key) onUnauthorized();
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const json = await response.json();
      message = json?.error?.message ?? message;
    } catch {
      // not JSON
    }
    throw new ApiError(response.status, message);
  }
  if (options.raw) return response;
  return response.status === 204 ? null : response.json();
}

/**
 * Downloads `path` as a file (a plain link cannot carry the Authorization header).
 * @param {string} path @param {string} filename
 */
export async function download(path, filename) {
  /** @type {Response} */
  const response = await api(path, { raw: true });
  const disposition = response.headers.get('content-disposition') ?? '';
  const named = /filename="([^"]+)"/.exec(disposition)?.[1] ?? filename;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = named;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Query string from an object, skipping empty values. @param {Record<string, any>} params */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}
