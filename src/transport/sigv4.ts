import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { UpstreamRequest } from '../providers/adapter.js';
import { merged } from '../core/objects.js';

/**
 * AWS Signature Version 4 for Bedrock, both directions: signing upstream requests and verifying
 * requests that SigV4 clients (the AWS SDK) send to the Bedrock Converse surface. Both use
 * `@smithy/signature-v4`, so the canonical request is built exactly as the SDK builds it:
 * each path segment is URI-encoded a second time (`v1%3A0` → `v1%253A0`), as AWS does for
 * every service but S3. See ../shared/protocols/bedrock.md §1.
 */

/** Static AWS credentials. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  /** When temporary credentials stop working. */
  expiration?: Date | undefined;
}

/** Credentials, or a function that resolves (and may refresh) them. */
export type AwsCredentialSource = AwsCredentials | (() => Promise<AwsCredentials>);

/** Options for {@link signRequest}. */
export interface SignOptions {
  region: string;
  credentials: AwsCredentialSource;
  /** Signing name. Default `bedrock` (not `bedrock-runtime`). */
  service?: string;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Signing name of bedrock-runtime. */
export const BEDROCK_SIGNING_NAME = 'bedrock';
/** The largest accepted difference between `x-amz-date` and our clock (AWS uses 15 minutes). */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
const ALGORITHM = 'AWS4-HMAC-SHA256';

/**
 * Encodes a model id or ARN as one path segment, the way the AWS SDK encodes a Smithy label
 * (`encodeURIComponent` plus `!'()*`): `:` → `%3A`, `/` → `%2F`.
 *
 * @example
 * encodeModelId('anthropic.claude-3-haiku-20240307-v1:0') // 'anthropic.claude-3-haiku-20240307-v1%3A0'
 */
export function encodeModelId(modelId: string): string {
  return encodeURIComponent(modelId).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Hex SHA-256 of a body (node:crypto; much faster than the pure-JS hash for large bodies). */
export function sha256Hex(body: string | Uint8Array | undefined): string {
  return createHash('sha256')
    .update(body ?? '')
    .digest('hex');
}

/**
 * Signs an upstream request. The URL path must already be encoded as it goes on the wire (use
 * {@link encodeModelId}); the signer encodes it once more for the canonical request. Adds
 * `host`, `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (temporary
 * credentials) and `authorization`.
 *
 * @example
 * const signed = await signRequest(
 *   { method: 'POST', url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/m%3A0/converse', headers: {}, body: '{}' },
 *   { region: 'us-east-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } },
 * );
 */
export async function signRequest(
  upstream: UpstreamRequest,
  options: SignOptions,
): Promise<UpstreamRequest> {
  const url = new URL(upstream.url);
  const credentials =
    typeof options.credentials === 'function' ? await options.credentials() : options.credentials;
  const signer = new SignatureV4({
    credentials,
    region: options.region,
    service: options.service ?? BEDROCK_SIGNING_NAME,
    sha256: Sha256,
  });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(upstream.headers)) headers[name.toLowerCase()] = value;
  headers['host'] = url.host;
  headers['x-amz-content-sha256'] = sha256Hex(upstream.body);
  const signed = await signer.sign(
    {
      method: upstream.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: parseQuery(url.search.slice(1)),
      headers,
      body: upstream.body,
    },
    { signingDate: new Date((options.now ?? Date.now)()) },
  );
  return merged(upstream, { headers: signed.headers });
}

/** A request as a SigV4-verifying server sees it. */
export interface SignedRequest {
  method: string;
  /** The raw path as received, still percent-encoded, without the query. */
  path: string;
  /** The raw query string, without `?`. */
  query?: string | undefined;
  /** Node-style lower-case headers. `:authority` stands in for `host` under HTTP/2. */
  headers: Record<string, string | string[] | undefined>;
  body: string | Uint8Array;
}

/** Why a signature was refused. */
export type SigV4Failure =
  | 'missing'
  | 'malformed'
  | 'unknown_key'
  | 'signature_mismatch'
  | 'expired'
  | 'body_hash_mismatch';

/** The outcome of {@link verifySigV4}: expected data, not an exception. */
export type SigV4Verification =
  | { ok: true; accessKeyId: string; region: string; service: string }
  | { ok: false; reason: SigV4Failure; message: string; accessKeyId?: string };

/** Options for {@link verifySigV4}. */
export interface VerifyOptions {
  /** Signing name the credential scope must name. Default `bedrock`. */
  service?: string;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Allowed clock skew. Default 15 minutes. */
  maxSkewMs?: number;
}

const AUTH_PATTERN =
  /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/;
const DATE_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * Verifies the `Authorization: AWS4-HMAC-SHA256 ...` header of a request: parses Credential,
 * SignedHeaders and Signature, checks `x-amz-date` (signed, within 15 minutes), checks that
 * `x-amz-content-sha256` (when sent) is the hash of the body, looks up the secret, recomputes the
 * signature with `@smithy/signature-v4` over exactly the signed headers, and compares in
 * constant time.
 */
export async function verifySigV4(
  request: SignedRequest,
  secretFor: (accessKeyId: string) => Promise<string | undefined>,
  options: VerifyOptions = {},
): Promise<SigV4Verification> {
  const authorization = header(request.headers, 'authorization');
  if (!authorization) return fail('missing', 'Missing Authentication Token');
  const match = AUTH_PATTERN.exec(authorization.trim());
  if (!match)
    return fail(
      'malformed',
      `Authorization header requires ${ALGORITHM} with Credential, SignedHeaders and Signature`,
    );
  const [, credential = '', signedList = '', signature = ''] = match;
  const scope = credential.split('/');
  const [accessKeyId = '', shortDate = '', region = '', service = '', terminal = ''] = scope;
  const expectedService = options.service ?? BEDROCK_SIGNING_NAME;
  if (scope.length !== 5 || !accessKeyId || terminal !== 'aws4_request')
    return fail('malformed', 'Malformed credential scope');
  if (service !== expectedService)
    return fail(
      'signature_mismatch',
      `Credential should be scoped to correct service: '${expectedService}'.`,
      accessKeyId,
    );
  const signedHeaders = signedList.split(';');
  const amzDate = header(request.headers, 'x-amz-date');
  const dateMatch = amzDate === undefined ? null : DATE_PATTERN.exec(amzDate);
  if (!dateMatch || !signedHeaders.includes('x-amz-date'))
    return fail(
      'malformed',
      'A signed x-amz-date header (YYYYMMDDTHHMMSSZ) is required',
      accessKeyId,
    );
  const [, year, month, day, hour, minute, second] = dateMatch.map(Number) as number[];
  const signingDate = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!));
  const now = (options.now ?? Date.now)();
  if (Math.abs(now - signingDate.getTime()) > (options.maxSkewMs ?? MAX_CLOCK_SKEW_MS)) {
    return fail(
      'expired',
      `Signature expired: ${amzDate} is now earlier or later than the allowed 15 minutes of skew.`,
      accessKeyId,
    );
  }
  if (amzDate!.slice(0, 8) !== shortDate)
    return fail('signature_mismatch', 'Credential date does not match x-amz-date', accessKeyId);
  const bodyHash = sha256Hex(request.body);
  const declaredHash = header(request.headers, 'x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== bodyHash) {
    return fail(
      'body_hash_mismatch',
      'The provided x-amz-content-sha256 header does not match what was computed.',
      accessKeyId,
    );
  }
  const secret = await secretFor(accessKeyId);
  if (secret === undefined)
    return fail(
      'unknown_key',
      'The security token included in the request is invalid.',
      accessKeyId,
    );

  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value =
      header(request.headers, name) ??
      (name === 'host' ? header(request.headers, ':authority') : undefined);
    if (value !== undefined) headers[name] = value;
  }
  // Hash the bytes we received, whatever the client declared (checked above).
  if (headers['x-amz-content-sha256'] !== undefined) headers['x-amz-content-sha256'] = bodyHash;
  const sessionToken = signedHeaders.includes('x-amz-security-token')
    ? headers['x-amz-security-token']
    : undefined;
  const signer = new SignatureV4({
    credentials: {
      accessKeyId,
      secretAccessKey: secret,
      ...(sessionToken ? { sessionToken } : {}),
    },
    region,
    service,
    sha256: Sha256,
    // Add no header the client did not sign.
    applyChecksum: false,
  });
  const recomputed = await signer.sign(
    {
      method: request.method.toUpperCase(),
      protocol: 'https:',
      hostname: headers['host'] ?? 'localhost',
      path: request.path,
      query: parseQuery(request.query ?? ''),
      headers,
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const expected =
    /Signature=([0-9a-f]{64})/.exec(recomputed.headers['authorization'] ?? '')?.[1] ?? '';
  if (!safeEqual(expected, signature)) {
    return fail(
      'signature_mismatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      accessKeyId,
    );
  }
  return { ok: true, accessKeyId, region, service };
}

/** Parses a raw query string into the decoded map the signer canonicalises. */
function parseQuery(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  if (!raw) return query;
  for (const [key, value] of new URLSearchParams(raw)) {
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else query[key] = [existing, value];
  }
  return query;
}

function header(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function fail(reason: SigV4Failure, message: string, accessKeyId?: string): SigV4Verification {
  return accessKeyId === undefined
    ? { ok: false, reason, message }
    : { ok: false, reason, message, accessKeyId };
}
