import type { GatewayError } from '../errors/index.js';
import { openAIErrorType } from '../errors/index.js';
import { RuntimeError } from './errors.js';

/**
 * Numbers stream events (`sequence_number` from 0), frames them as SSE (`event: <type>` +
 * `data: <json>`) into a pending buffer the caller drains, and keeps every event for the
 * store, so `GET /responses/{id}?stream=true` replays exactly what was sent.
 */
export class EventLog {
  private sequence = 0;
  private pending = '';
  private readonly texts: string[] = [];

  /** Numbers (in place: events are built for this log only), frames and records one event. */
  emit(event: Record<string, unknown>): void {
    event['sequence_number'] = this.sequence++;
    const text = JSON.stringify(event);
    this.texts.push(text);
    this.pending += `event: ${String(event['type'])}\ndata: ${text}\n\n`;
  }

  /** The SSE text of the events emitted since the last call. */
  drain(): string {
    const out = this.pending;
    this.pending = '';
    return out;
  }

  /** Every event so far, as a JSON array text (what the store keeps). */
  json(): string {
    return `[${this.texts.join(',')}]`;
  }
}

/**
 * The `error` event, in both shapes clients read (spec `ResponseErrorEvent` fields at the top,
 * the nested `error` object seen on the wire): see ../shared/specs/responses-api.md §6g.
 */
export function errorEvent(error: GatewayError): Record<string, unknown> {
  const code = error instanceof RuntimeError ? (error.apiCode ?? error.code) : error.code;
  const type = error instanceof RuntimeError ? error.apiType : openAIErrorType(error.status);
  return {
    type: 'error',
    code,
    message: error.message,
    param: error.param,
    error: { type, code, message: error.message, param: error.param },
  };
}

/** SSE framing of one stored event. */
export function frame(event: Record<string, unknown>): string {
  return `event: ${String(event['type'])}\ndata: ${JSON.stringify(event)}\n\n`;
}
