import type { Database } from '../store/index.js';
import type { GatewayObserver } from './observer.js';
import { telemetryDb } from './rollup-schema.js';

/**
 * Debug storage of request and response bodies (`telemetry.bodies`, off by default): secrets
 * are redacted, each body is cut at `maxBytes`, rows older than `retentionHours` are deleted.
 * Bodies are buffered and written in the background; they never delay an answer. Streamed
 * answers store the request only.
 */

/** Options of {@link createBodyStore}. */
export interface BodyStoreOptions {
  database: Database;
  maxBytes: number;
  retentionHours: number;
  clock: () => number;
  flushIntervalMs?: number;
  onError?: (error: unknown) => void;
}

/** A stored pair of bodies. */
export interface StoredBodies {
  requestId: string;
  createdAt: number;
  request: unknown;
  response: unknown;
}

const SECRET_KEYS =
  /^(authorization|api[-_]?key|x-api-key|password|passwd|secret|client[-_]?secret|token|access[-_]?token|refresh[-_]?token|session[-_]?token|secret[-_]?access[-_]?key)$/i;
const SECRET_VALUES =
  /\b(sk-[A-Za-z0-9_-]{8,}|sy-[A-Za-z0-9_-]{8,}|AKIA[0-9A-Z]{16}|xox[abp]-[A-Za-z0-9-]{8,}|gh[pousr]_[A-Za-z0-9]{20,})|Bearer\s+[A-Za-z0-9._~+/-]+=*/g;

/** A copy of `value` with secret-named fields and secret-looking strings replaced by `[redacted]`. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(SECRET_VALUES, '[redacted]');
  if (value === null || typeof value !== 'object' || depth > 32) return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value))
    out[key] = SECRET_KEYS.test(key) ? '[redacted]' : redact(item, depth + 1);
  return out;
}

/** Redacted JSON text of `value`, cut to `maxBytes` (UTF-16 units, close enough for a debug cap). */
export function captureText(value: unknown, maxBytes: number): string {
  const text = JSON.stringify(redact(value)) ?? 'null';
  return text.length <= maxBytes
    ? text
    : `${text.slice(0, maxBytes)}…[cut ${text.length - maxBytes} chars]`;
}

/** Creates the body store and the observer that feeds it. */
export function createBodyStore(options: BodyStoreOptions) {
  const db = telemetryDb(options.database);
  let pending = new Map<
    string,
    { created_at: number; request: string | null; response: string | null }
  >();
  let timer: NodeJS.Timeout | undefined;
  let lastSweep = 0;

  const flush = async () => {
    const rows = [...pending.entries()];
    pending = new Map();
    try {
      if (rows.length > 0) {
        await db
          .insertInto('telemetry_bodies')
          .values(rows.map(([request_id, row]) => ({ request_id, ...row })))
          .onConflict((conflict) => conflict.column('request_id').doNothing())
          .execute();
      }
      const now = options.clock();
      if (now - lastSweep > 600_000) {
        lastSweep = now;
        await db
          .deleteFrom('telemetry_bodies')
          .where('created_at', '<', BigInt(Math.trunc(now - options.retentionHours * 3_600_000)))
          .execute();
      }
    } catch (error) {
      options.onError?.(error);
    }
  };

  const observer: GatewayObserver = {
    requestStart(start) {
      if (start.internal) return { headers: undefined, firstToken() {}, end() {} };
      const request = start.body === undefined ? null : captureText(start.body, options.maxBytes);
      return {
        headers: undefined,
        firstToken() {},
        end(event, response) {
          // The gateway may hand a thunk: the fast path parses an answer only when asked to.
          let value: unknown;
          try {
            value = typeof response === 'function' ? (response as () => unknown)() : response;
          } catch {
            value = undefined;
          }
          pending.set(event.requestId, {
            created_at: event.createdAt,
            request,
            response: value === undefined ? null : captureText(value, options.maxBytes),
          });
        },
      };
    },
    attemptStart: () => ({ headers: undefined, end() {} }),
  };

  return {
    observer,
    flush,
    async get(requestId: string): Promise<StoredBodies | undefined> {
      const row = await db
        .selectFrom('telemetry_bodies')
        .selectAll()
        .where('request_id', '=', requestId)
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        requestId: row.request_id,
        createdAt: Number(row.created_at),
        request: row.request === null ? null : JSON.parse(row.request),
        response: row.response === null ? null : safeParse(row.response),
      };
    },
    start() {
      timer ??= setInterval(() => void flush(), options.flushIntervalMs ?? 5000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush();
    },
  };
}

export type BodyStore = ReturnType<typeof createBodyStore>;

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
