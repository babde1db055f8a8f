import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/index.js';
import { GatewayError } from '../errors/index.js';
import type { ChatRequest, EmbeddingsRequest } from '../core/chat.js';
import type { Usage } from '../core/usage.js';
import type { Credential, Principal } from '../gateway/types.js';

/** What a request asks for, as access sees it before the call. */
export interface AdmissionRequest {
  requestId: string;
  principal: Principal;
  /** Logical model name. */
  model: string;
  /** The client body (chat or embeddings), for token estimates. */
  body: ChatRequest | EmbeddingsRequest;
  operation: 'chat' | 'embeddings';
  now: number;
}

/**
 * A request let in: limits counted and budget reserved. Exactly one of `settle` (with the real
 * usage, or undefined when the call failed) must be called when the request ends.
 */
export interface Admission {
  /** Headers to send with the answer (x-ratelimit-*). */
  headers: Record<string, string>;
  settle(usage: Usage | undefined): Promise<void>;
}

/** Resolves credentials to principals, and admits requests against limits and budgets. */
export interface Access {
  authenticate(credential: Credential, remoteAddress: string | undefined): Promise<Principal>;
  resolveSigV4Secret(accessKeyId: string): Promise<{ secret: string; principal: Principal } | undefined>;
  /** Checks rate limits and reserves budget; throws a 429/402 GatewayError when refused. */
  admit(request: AdmissionRequest): Promise<Admission>;
}

const OPEN_ADMISSION: Admission = { headers: {}, settle: async () => {} };

const MASTER: Principal = { keyId: 'master', tenantId: 'default', projectId: 'default', isMaster: true };
const LOOPBACK: Principal = { keyId: null, tenantId: 'default', projectId: 'default', isMaster: true };

/**
 * Key-based access: `auth.masterKey` is accepted everywhere; keys seeded under `keys:` are
 * matched by their SHA-256 hash. With no master key configured, only loopback clients are
 * served (as an anonymous principal with full rights).
 */
export function createAccess(config: Config): Access {
  const master = config.auth.masterKey;
  const seeded = new Map<string, Principal>();
  for (const [index, key] of config.keys.entries()) {
    seeded.set(sha256(key.key), {
      keyId: key.name ?? `seed-${index}`,
      tenantId: key.tenant,
      projectId: key.project,
      isMaster: false,
      allowedModels: key.models,
    });
  }
  return {
    async authenticate(credential, remoteAddress) {
      if (credential.kind === 'bearer') {
        if (master !== undefined && safeEqual(credential.token, master)) return MASTER;
        const principal = seeded.get(sha256(credential.token));
        if (principal) return principal;
        // Open loopback mode: SDKs always send some key (the openai SDK requires one), so an
        // unknown key from loopback gets what no key gets.
        if (master === undefined && isLoopback(remoteAddress)) return LOOPBACK;
        throw new GatewayError('Invalid API key', { code: 'unauthorized', status: 401, errorClass: 'auth', retryable: false, failover: false });
      }
      if (master === undefined && isLoopback(remoteAddress)) return LOOPBACK;
      throw new GatewayError(
        master === undefined ? 'Switchyard serves only loopback clients until auth.masterKey is set' : 'Missing API key (send Authorization: Bearer <key>)',
        { code: 'unauthorized', status: 401, errorClass: 'auth', retryable: false, failover: false },
      );
    },
    async resolveSigV4Secret(accessKeyId) {
      if (accessKeyId === 'master' && master !== undefined) return { secret: master, principal: MASTER };
      return undefined;
    },
    async admit() {
      return OPEN_ADMISSION;
    },
  };
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function safeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}
