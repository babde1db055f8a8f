import type { IncomingMessage } from 'node:http';
import type { Credential } from '../../gateway/types.js';

/** Reads `Authorization: Bearer <key>`, or `api-key` / `x-api-key` (Azure- and Anthropic-style clients). */
export function credentialFrom(request: IncomingMessage): Credential {
  const authorization = request.headers.authorization;
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization);
    if (match) return { kind: 'bearer', token: match[1]!.trim() };
  }
  const apiKey = request.headers['api-key'] ?? request.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey) return { kind: 'bearer', token: apiKey };
  return { kind: 'none' };
}
