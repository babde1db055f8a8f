import type { IncomingHttpHeaders } from 'node:http';
import { GoogleHttpError } from './gemini-errors.js';

/**
 * Routing and auth of the sandbox Gemini/Vertex emulator: which model and method a path names,
 * and the API key (Gemini) or bearer token (Vertex) check.
 */

export type Route = {
  model: string;
  method: 'generateContent' | 'streamGenerateContent' | 'countTokens';
};

/** The model and method of a Gemini (`/v1beta/models/…`) or Vertex path; undefined for any other path. */
export function parseRoute(path: string, flavor: 'gemini' | 'vertex'): Route | undefined {
  const pattern =
    flavor === 'gemini'
      ? /^\/v1(?:beta|alpha)?\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/
      : /^\/v1(?:beta1)?\/projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;
  const match = pattern.exec(path);
  return match
    ? { model: decodeURIComponent(match[1]!), method: match[2] as Route['method'] }
    : undefined;
}

/**
 * Checks the caller as each flavour does (Vertex: a bearer token; Gemini: `x-goog-api-key` or
 * `?key=`), throwing Google's own 401, 403 or 400 answer. No expected secret: anyone may call.
 */
export function checkAuth(
  headers: IncomingHttpHeaders,
  url: URL,
  flavor: 'gemini' | 'vertex',
  expected: string | undefined,
): void {
  if (expected === undefined) return;
  if (flavor === 'vertex') {
    if (headers.authorization === `Bearer ${expected}`) return;
    throw new GoogleHttpError(
      401,
      'UNAUTHENTICATED',
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
    );
  }
  const key = headers['x-goog-api-key'] ?? url.searchParams.get('key');
  if (key === expected) return;
  if (key === undefined || key === null) {
    throw new GoogleHttpError(
      403,
      'PERMISSION_DENIED',
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    );
  }
  throw new GoogleHttpError(
    400,
    'INVALID_ARGUMENT',
    'API key not valid. Please pass a valid API key.',
    [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'API_KEY_INVALID',
        domain: 'googleapis.com',
      },
    ],
  );
}
