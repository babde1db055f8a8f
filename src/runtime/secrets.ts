import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import {
  chmodSync,
  linkSync,
  mkdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Tool secrets at rest (MCP tool `headers` of background runs, auth headers of registered HTTP
 * tools): AES-256-GCM with a random 96-bit IV per value, the row's identity as additional
 * authenticated data (a sealed value copied into another row does not open), and the key's id
 * in the token so a wrong key fails with a clear message instead of garbage.
 *
 * Token: `enc:v1:<key id>:<base64url(iv ‖ tag ‖ ciphertext)>`. A value without the `enc:v1:`
 * prefix is legacy plaintext (written before encryption existed) and is returned as is.
 *
 * Where the key comes from ({@link resolveSecretBox}), first match wins:
 * 1. `runtime.secretKey` (base64 of 32 bytes; `${ENV}` allowed in the config);
 * 2. HKDF-SHA256 of `auth.masterKey` (every replica with the same master key derives the same key);
 * 3. SQLite file store: a random key in `<db file>.secret-key` (mode 0600), created on first start;
 * 4. otherwise (in-memory SQLite, or Postgres without either setting) a random key for this
 *    process only: background runs holding MCP headers cannot be resumed by another process.
 * `runtime.previousSecretKeys` still open values sealed under older keys (rotation).
 */

/** Encrypts and decrypts small secrets. */
export interface SecretBox {
  /** Id of the sealing key: the first 8 hex characters of its SHA-256 (safe to log). */
  readonly keyId: string;
  /** Where the key came from. */
  readonly source: SecretKeySource;
  /** Seals `plaintext`; `context` (e.g. `agent_runs:<id>`) must be given again to open it. */
  seal(plaintext: string, context: string): string;
  /** Opens a sealed token (legacy plaintext is returned unchanged). Throws {@link SecretError}. */
  open(value: string, context: string): string;
  isSealed(value: string): boolean;
}

export type SecretKeySource = 'config' | 'master-key' | 'key-file' | 'ephemeral';

/** A sealed value that cannot be opened (unknown key, tampered, wrong row). */
export class SecretError extends Error {
  override readonly name = 'SecretError';
}

const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Id of a key: first 8 hex characters of its SHA-256. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** A box sealing with `key` and opening with it or any of `previous`. */
export function createSecretBox(
  key: Buffer,
  source: SecretKeySource,
  previous: Buffer[] = [],
): SecretBox {
  if (key.length !== 32) throw new TypeError('the secret key must be 32 bytes');
  const keyId = keyIdOf(key);
  const keys = new Map<string, Buffer>();
  for (const old of previous) keys.set(keyIdOf(old), old);
  keys.set(keyId, key);
  return {
    keyId,
    source,
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${PREFIX}${keyId}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    },
    open(value, context) {
      if (!value.startsWith(PREFIX)) return value;
      const rest = value.slice(PREFIX.length);
      const colon = rest.indexOf(':');
      const id = rest.slice(0, colon);
      const opener = keys.get(id);
      if (colon < 0 || !opener) {
        throw new SecretError(
          `A tool secret was sealed with key ${id || '?'}, which this process does not have (its key is ${keyId}); configure the same runtime.secretKey (or auth.masterKey) on every process, or list the old key in runtime.previousSecretKeys.`,
        );
      }
      const raw = Buffer.from(rest.slice(colon + 1), 'base64url');
      if (raw.length < IV_BYTES + TAG_BYTES)
        throw new SecretError('A sealed tool secret is truncated.');
      try {
        const decipher = createDecipheriv('aes-256-gcm', opener, raw.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        return Buffer.concat([
          decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new SecretError(
          'A sealed tool secret failed authentication (tampered, or moved from another row).',
        );
      }
    },
    isSealed: (value) => value.startsWith(PREFIX),
  };
}

/** Decodes a configured key: base64 (standard or url-safe) of exactly 32 bytes. */
export function decodeSecretKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, /[-_]/.test(trimmed) ? 'base64url' : 'base64');
  if (key.length !== 32 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed))
    throw new TypeError('must be base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`)');
  return key;
}

/** The key derived from the master key (HKDF-SHA256, fixed salt and info). */
export function deriveFromMasterKey(masterKey: string): Buffer {
  return Buffer.from(
    hkdfSync(
      'sha256',
      Buffer.from(masterKey, 'utf8'),
      Buffer.from('switchyard', 'utf8'),
      Buffer.from('switchyard runtime tool secrets v1', 'utf8'),
      32,
    ),
  );
}

/** What {@link resolveSecretBox} reads from the config. */
export interface SecretKeyOptions {
  /** `runtime.secretKey` (base64, 32 bytes). */
  secretKey?: string | undefined;
  /** `runtime.previousSecretKeys`. */
  previousSecretKeys?: readonly string[] | undefined;
  /** `auth.masterKey`. */
  masterKey?: string | undefined;
  /** The store URL (`sqlite:…` or `postgres://…`). */
  store: string;
}

/** The box and, when the key cannot be shared with other processes, a warning to log. */
export function resolveSecretBox(options: SecretKeyOptions): {
  box: SecretBox;
  warning?: string;
  keyFile?: string;
} {
  const previous = (options.previousSecretKeys ?? []).map(decodeSecretKey);
  if (options.secretKey)
    return { box: createSecretBox(decodeSecretKey(options.secretKey), 'config', previous) };
  if (options.masterKey)
    return { box: createSecretBox(deriveFromMasterKey(options.masterKey), 'master-key', previous) };
  const file = sqliteFile(options.store);
  if (file) {
    const keyFile = `${resolve(file)}.secret-key`;
    return { box: createSecretBox(readOrCreateKeyFile(keyFile), 'key-file', previous), keyFile };
  }
  const box = createSecretBox(randomBytes(32), 'ephemeral', previous);
  if (options.store.startsWith('sqlite:')) return { box };
  return {
    box,
    warning:
      'Neither runtime.secretKey nor auth.masterKey is set: tool secrets of background runs are sealed with a key of this process only, so another process cannot resume such a run. Set runtime.secretKey (the same on every replica).',
  };
}

/** The file path of a `sqlite:` store URL; undefined for memory databases and other stores. */
function sqliteFile(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const rest = url.slice('sqlite:'.length);
  if (rest === ':memory:' || rest === '') return undefined;
  return rest.startsWith('//') ? rest.slice(2) : rest;
}

/**
 * Reads the key file, or creates it (0600) when missing. Creation is atomic: the key is written
 * to a private temporary file and hard-linked into place, so two processes starting at once
 * agree on one key and neither reads a half-written file.
 */
function readOrCreateKeyFile(path: string): Buffer {
  const read = (): Buffer => {
    const key = decodeSecretKey(readFileSync(path, 'utf8'));
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return key;
  };
  try {
    return read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new Error(`cannot read the secret key file ${path}: ${(error as Error).message}`);
  }
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  return read();
}

/** A sealed JSON value as stored in a JSON document: `{"$sealed": "enc:v1:…"}`. */
export interface SealedJson {
  $sealed: string;
}

/** Seals any JSON value into a {@link SealedJson} wrapper. */
export function sealJson(box: SecretBox, value: unknown, context: string): SealedJson {
  return { $sealed: box.seal(JSON.stringify(value), context) };
}

/** Opens a {@link SealedJson} wrapper; any other value (legacy plaintext) is returned as is. */
export function openJson(box: SecretBox, value: unknown, context: string): unknown {
  if (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as SealedJson).$sealed === 'string'
  ) {
    return JSON.parse(box.open((value as SealedJson).$sealed, context)) as unknown;
  }
  return value;
}
