import { randomBytes } from 'node:crypto';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): parsing and formatting the
 * `traceparent` header, without the OpenTelemetry propagator machinery (this runs on every
 * request, traced or not).
 */

/** A parsed `traceparent`. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  /** Trace flags; bit 0 = sampled. */
  flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const INVALID_TRACE = '00000000000000000000000000000000';
const INVALID_SPAN = '0000000000000000';

/**
 * Parses a `traceparent` header; undefined when absent or invalid (version ff, all-zero ids,
 * or a version-00 header with trailing fields, per §3.2.2).
 * @example parseTraceParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
 */
export function parseTraceParent(header: string | string[] | undefined): TraceParent | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.length < 55) return undefined;
  const match = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (version === 'ff' || (version === '00' && value.trim().length !== 55)) return undefined;
  if (traceId === INVALID_TRACE || spanId === INVALID_SPAN) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** Formats a version-00 `traceparent`. */
export function formatTraceParent(parent: TraceParent): string {
  return `00-${parent.traceId}-${parent.spanId}-${(parent.flags & 0xff).toString(16).padStart(2, '0')}`;
}

// Random bytes drawn 6 KiB at a time: one randomBytes call per 256 ids, not one per request.
let pool = Buffer.alloc(0);
let offset = 0;

/** A new random trace and span id, not sampled (used to correlate logs when tracing is off). */
export function newTraceParent(): TraceParent {
  if (offset + 24 > pool.length) {
    pool = randomBytes(24 * 256);
    offset = 0;
  }
  const traceId = pool.toString('hex', offset, offset + 16);
  const spanId = pool.toString('hex', offset + 16, offset + 24);
  offset += 24;
  return { traceId, spanId, flags: 0 };
}
