import type { ChatDelta, ChatToolCallDelta } from '../core/chat.js';
import type { IdSource } from '../core/ids.js';
import { decodeReasoning, encodeReasoning } from './envelope.js';
import type { Item } from './types.js';

/** Receives each stream event (without `sequence_number`; the event log numbers them). */
export type EventSink = (event: Record<string, unknown>) => void;

type Part = { type: 'output_text'; text: string } | { type: 'refusal'; refusal: string };

type Open =
  | { kind: 'message'; index: number; id: string; parts: Part[]; part: Part | undefined }
  | {
      kind: 'reasoning';
      index: number;
      id: string;
      text: string;
      signature: string | undefined;
      summaryOpen: boolean;
      model?: string | undefined;
    }
  | {
      kind: 'function_call';
      index: number;
      id: string;
      callId: string;
      name: string;
      arguments: string;
    };

/**
 * Builds a response's output items from chat deltas, emitting the Responses stream events of
 * each step in the spec's order (../shared/specs/responses-api.md §6): `output_item.added`,
 * `content_part.added`, deltas, `…done`, `output_item.done`, with the same item id
 * throughout. Without a sink it only builds the items, so a whole completion and a stream
 * produce the same output. Reasoning is shown as a summary part (the form every Responses
 * client reads) and kept, with its signature, in `encrypted_content`.
 */
export class OutputBuilder {
  /** Output items; the open one is a placeholder until it closes (see {@link snapshot}). */
  readonly items: Item[] = [];
  private open: Open | undefined;
  private readonly calls = new Map<number, Extract<Open, { kind: 'function_call' }>>();
  private nextIndex = 0;

  private readonly ids: IdSource;
  private readonly sink: EventSink | undefined;
  private readonly model: string | undefined;
  private readonly namespaced: Map<string, { namespace: string; name: string }> | undefined;

  /**
   * @param options.ids Mints item ids (`msg_`, `fc_`, `rs_`, `call_` prefixes).
   * @param options.sink Receives the stream events; none for a whole answer.
   * @param options.model Logical model, recorded in reasoning envelopes (see to-chat.ts).
   */
  constructor(options: {
    ids: IdSource;
    sink?: EventSink | undefined;
    model?: string | undefined;
    /** Flattened namespace tools: their calls are shown with `namespace` and the bare `name`. */
    namespaced?: Map<string, { namespace: string; name: string }> | undefined;
  }) {
    this.ids = options.ids;
    this.namespaced = options.namespaced;
    this.sink = options.sink;
    this.model = options.model;
  }

  /** Applies one chat delta (`content`, `refusal`, `reasoning_content`/`reasoning_signature`, `tool_calls`). */
  delta(delta: ChatDelta): void {
    if (typeof delta.reasoning_content === 'string' && delta.reasoning_content !== '')
      this.reasoning(delta.reasoning_content);
    if (typeof delta.reasoning_signature === 'string' && delta.reasoning_signature !== '')
      this.signature(delta.reasoning_signature);
    if (typeof delta.refusal === 'string' && delta.refusal !== '') this.refusal(delta.refusal);
    if (typeof delta.content === 'string' && delta.content !== '') this.text(delta.content);
    for (const call of delta.tool_calls ?? []) this.toolCall(call);
  }

  /** Adds a finished item (a compaction item) in one step. */
  addComplete(item: Item): void {
    this.close('completed');
    const index = this.nextIndex++;
    this.emit({ type: 'response.output_item.added', output_index: index, item });
    this.items.push(item);
    this.emit({ type: 'response.output_item.done', output_index: index, item });
  }

  /** Reasoning text. */
  reasoning(text: string, id?: string): void {
    const open = this.open?.kind === 'reasoning' ? this.open : this.openReasoning(id);
    if (!open.summaryOpen) {
      open.summaryOpen = true;
      this.emit({
        type: 'response.reasoning_summary_part.added',
        item_id: open.id,
        output_index: open.index,
        summary_index: 0,
        part: { type: 'summary_text', text: '' },
      });
    }
    open.text += text;
    this.emit({
      type: 'response.reasoning_summary_text.delta',
      item_id: open.id,
      output_index: open.index,
      summary_index: 0,
      delta: text,
    });
  }

  /** A reasoning signature: kept on the open reasoning item, or on a new one when it comes after the text (Gemini). */
  signature(signature: string, id?: string): void {
    const open = this.open?.kind === 'reasoning' ? this.open : this.openReasoning(id);
    open.signature = signature;
  }

  /** Answer text. */
  text(text: string, id?: string): void {
    const part = this.part('output_text', id);
    if (part.type !== 'output_text') return;
    part.text += text;
    const open = this.open as Extract<Open, { kind: 'message' }>;
    this.emit({
      type: 'response.output_text.delta',
      item_id: open.id,
      output_index: open.index,
      content_index: open.parts.length - 1,
      delta: text,
      logprobs: [],
    });
  }

  /** Refusal text. */
  refusal(text: string, id?: string): void {
    const part = this.part('refusal', id);
    if (part.type !== 'refusal') return;
    part.refusal += text;
    const open = this.open as Extract<Open, { kind: 'message' }>;
    this.emit({
      type: 'response.refusal.delta',
      item_id: open.id,
      output_index: open.index,
      content_index: open.parts.length - 1,
      delta: text,
    });
  }

  /** A tool-call fragment (OpenAI chunk shape). A new `index` closes the open call. */
  toolCall(delta: ChatToolCallDelta, id?: string): void {
    let call = this.calls.get(delta.index);
    const args = delta.function?.arguments;
    if (call && call !== this.open) {
      // A late fragment of a call already closed: keep the final item right.
      if (typeof args === 'string') {
        call.arguments += args;
        this.items[call.index] = this.callItem(call, 'completed');
      }
      return;
    }
    if (!call) {
      this.close('completed');
      call = {
        kind: 'function_call',
        index: this.nextIndex++,
        id: id ?? this.ids('fc_'),
        callId: delta.id ?? this.ids('call_'),
        name: delta.function?.name ?? '',
        arguments: '',
      };
      this.open = call;
      this.calls.set(delta.index, call);
      this.items.push({ type: 'function_call', id: call.id });
      this.emit({
        type: 'response.output_item.added',
        output_index: call.index,
        item: this.callItem(call, 'in_progress'),
      });
    } else if (delta.function?.name && call.name === '') call.name = delta.function.name;
    if (typeof args === 'string' && args !== '') {
      call.arguments += args;
      this.emit({
        type: 'response.function_call_arguments.delta',
        item_id: call.id,
        output_index: call.index,
        delta: args,
      });
    }
  }

  /** The output as it stands, the open item included as `in_progress` (for a failed response). */
  snapshot(): Item[] {
    const open = this.open;
    if (!open) return [...this.items];
    const items = [...this.items];
    if (open.kind === 'message')
      items[open.index] = {
        id: open.id,
        type: 'message',
        status: 'in_progress',
        content: open.parts.map(renderPart),
        role: 'assistant',
      };
    else if (open.kind === 'reasoning')
      items[open.index] = {
        id: open.id,
        type: 'reasoning',
        summary: open.summaryOpen ? [{ type: 'summary_text', text: open.text }] : [],
      };
    else items[open.index] = this.callItem(open, 'in_progress');
    return items;
  }

  /**
   * Closes the open item. `incomplete` marks a message cut short (max_output_tokens).
   * Call once at the end; the builder can go on afterwards (the next delta opens a new item).
   */
  close(status: 'completed' | 'incomplete' = 'completed'): void {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    if (open.kind === 'message') {
      this.closePart(open);
      const item: Item = {
        id: open.id,
        type: 'message',
        status,
        content: open.parts.map(renderPart),
        role: 'assistant',
      };
      this.place(open.index, item);
      this.emit({ type: 'response.output_item.done', output_index: open.index, item });
    } else if (open.kind === 'reasoning') {
      const summary = open.summaryOpen ? [{ type: 'summary_text', text: open.text }] : [];
      if (open.summaryOpen) {
        this.emit({
          type: 'response.reasoning_summary_text.done',
          item_id: open.id,
          output_index: open.index,
          summary_index: 0,
          text: open.text,
        });
        this.emit({
          type: 'response.reasoning_summary_part.done',
          item_id: open.id,
          output_index: open.index,
          summary_index: 0,
          part: { type: 'summary_text', text: open.text },
        });
      }
      const item: Item = {
        id: open.id,
        type: 'reasoning',
        summary,
        encrypted_content: encodeReasoning({
          text: open.text,
          signature: open.signature,
          model: open.model ?? this.model,
        }),
      };
      this.place(open.index, item);
      this.emit({ type: 'response.output_item.done', output_index: open.index, item });
    } else {
      const item = this.callItem(open, 'completed');
      this.emit({
        type: 'response.function_call_arguments.done',
        item_id: open.id,
        output_index: open.index,
        name: open.name,
        arguments: open.arguments,
      });
      this.place(open.index, item);
      this.emit({ type: 'response.output_item.done', output_index: open.index, item });
    }
  }

  /** Replays a finished item through the same steps (for `GET …?stream=true` of a response that was not streamed). */
  replay(item: Item): void {
    const id = typeof item.id === 'string' ? item.id : undefined;
    if (item.type === 'message' && Array.isArray(item['content'])) {
      for (const part of item['content'] as Array<Record<string, unknown>>) {
        if (part['type'] === 'refusal') this.refusal(String(part['refusal'] ?? ''), id);
        else this.text(String(part['text'] ?? ''), id);
      }
      this.close(item['status'] === 'incomplete' ? 'incomplete' : 'completed');
    } else if (item.type === 'reasoning') {
      const payload = decodeReasoning(item['encrypted_content']);
      const text = payload?.text ?? '';
      if (text !== '') this.reasoning(text, id);
      else this.openReasoning(id);
      if (payload?.signature !== undefined) this.signature(payload.signature, id);
      if (this.open?.kind === 'reasoning') this.open.model = payload?.model;
      this.close();
    } else if (item.type === 'function_call') {
      this.toolCall(
        {
          index: this.nextIndex,
          id: String(item['call_id']),
          function: { name: String(item['name']), arguments: String(item['arguments'] ?? '') },
        },
        id,
      );
      this.close();
    } else this.addComplete(item);
  }

  private openReasoning(id?: string): Extract<Open, { kind: 'reasoning' }> {
    this.close('completed');
    const open: Extract<Open, { kind: 'reasoning' }> = {
      kind: 'reasoning',
      index: this.nextIndex++,
      id: id ?? this.ids('rs_'),
      text: '',
      signature: undefined,
      summaryOpen: false,
    };
    this.open = open;
    this.items.push({ type: 'reasoning', id: open.id });
    this.emit({
      type: 'response.output_item.added',
      output_index: open.index,
      item: { id: open.id, type: 'reasoning', summary: [] },
    });
    return open;
  }

  /** The open content part of the given type, opening a message and/or part as needed. */
  private part(type: Part['type'], id?: string): Part {
    let open = this.open;
    if (open?.kind !== 'message') {
      this.close('completed');
      open = {
        kind: 'message',
        index: this.nextIndex++,
        id: id ?? this.ids('msg_'),
        parts: [],
        part: undefined,
      };
      this.open = open;
      this.items.push({ type: 'message', id: open.id });
      this.emit({
        type: 'response.output_item.added',
        output_index: open.index,
        item: {
          id: open.id,
          type: 'message',
          status: 'in_progress',
          content: [],
          role: 'assistant',
        },
      });
    }
    if (open.part?.type === type) return open.part;
    this.closePart(open);
    const part: Part = type === 'output_text' ? { type, text: '' } : { type, refusal: '' };
    open.parts.push(part);
    open.part = part;
    this.emit({
      type: 'response.content_part.added',
      item_id: open.id,
      output_index: open.index,
      content_index: open.parts.length - 1,
      part: renderPart({ ...part } as Part),
    });
    return part;
  }

  private closePart(open: Extract<Open, { kind: 'message' }>): void {
    const part = open.part;
    if (!part) return;
    open.part = undefined;
    const common = {
      item_id: open.id,
      output_index: open.index,
      content_index: open.parts.length - 1,
    };
    if (part.type === 'output_text')
      this.emit({ type: 'response.output_text.done', ...common, text: part.text, logprobs: [] });
    else this.emit({ type: 'response.refusal.done', ...common, refusal: part.refusal });
    this.emit({ type: 'response.content_part.done', ...common, part: renderPart(part) });
  }

  private callItem(open: Extract<Open, { kind: 'function_call' }>, status: string): Item {
    const item: Item = {
      id: open.id,
      type: 'function_call',
      status,
      arguments: open.arguments,
      call_id: open.callId,
      name: open.name,
    };
    const member = this.namespaced?.get(open.name);
    if (member) Object.assign(item, { namespace: member.namespace, name: member.name });
    return item;
  }

  private place(index: number, item: Item): void {
    this.items[index] = item;
  }

  private emit(event: Record<string, unknown>): void {
    this.sink?.(event);
  }
}

function renderPart(part: Part): Record<string, unknown> {
  return part.type === 'output_text'
    ? { type: 'output_text', annotations: [], logprobs: [], text: part.text }
    : { type: 'refusal', refusal: part.refusal };
}
