// @ts-check
/** Conversations and runs: recent responses, a response chain, a conversation's items, agent steps and approvals. */
import { api, query } from './api.js';
import { badge, h, mount, table, when } from './dom.js';

/** @param {string} status */
function statusBadge(status) {
  return badge(
    status,
    status === 'completed'
      ? 'ok'
      : status === 'failed' || status === 'cancelled'
        ? 'bad'
        : status === 'incomplete'
          ? 'warn'
          : 'info',
  );
}

/** Text of a message item's content parts. @param {any} item */
function textOf(item) {
  if (typeof item.content === 'string') return item.content;
  if (Array.isArray(item.content))
    return item.content
      .map(
        (/** @type {any} */ part) =>
          part.text ?? part.refusal ?? (part.type ? `[${part.type}]` : ''),
      )
      .join('');
  return '';
}

/**
 * One item: messages, tool calls and their outputs, reasoning, and approval requests (with
 * approve/reject buttons that answer through the Responses API).
 * @param {any} item @param {any} [response]
 */
function itemView(item, response) {
  const kind = item.type === 'message' ? `${item.role} message` : item.type.replaceAll('_', ' ');
  /** @type {any[]} */
  const body = [];
  if (item.type === 'message') body.push(h('pre', null, textOf(item)));
  else if (
    item.type === 'function_call' ||
    item.type === 'mcp_call' ||
    item.type === 'mcp_approval_request'
  )
    body.push(
      h(
        'pre',
        { class: 'mono' },
        `${item.server_label ? `${item.server_label}.` : ''}${item.name}(${item.arguments ?? ''})`,
      ),
      item.output ? h('pre', { class: 'mono' }, `→ ${item.output}`) : null,
    );
  else if (item.type === 'function_call_output')
    body.push(
      h(
        'pre',
        { class: 'mono' },
        `${item.call_id} → ${typeof item.output === 'string' ? item.output : JSON.stringify(item.output)}`,
      ),
    );
  else if (item.type === 'mcp_list_tools')
    body.push(
      h(
        'pre',
        { class: 'mono' },
        `${item.server_label}: ${(item.tools ?? []).map((/** @type {any} */ tool) => tool.name).join(', ')}`,
      ),
    );
  else if (item.type === 'reasoning')
    body.push(
      h(
        'pre',
        null,
        (item.summary ?? []).map((/** @type {any} */ part) => part.text).join('\n') ||
          '(reasoning)',
      ),
    );
  else body.push(h('pre', { class: 'mono' }, JSON.stringify(item, null, 1).slice(0, 800)));
  if (item.type === 'mcp_approval_request' && response) {
    const result = h('span', { class: 'sub' });
    const answer = (/** @type {boolean} */ approve) => async () => {
      try {
        // Tools are not inherited through previous_response_id: send the response's own again.
        const next = await api('/v1/responses', {
          body: {
            model: response.model,
            previous_response_id: response.id,
            input: [{ type: 'mcp_approval_response', approval_request_id: item.id, approve }],
            ...(response.tools?.length ? { tools: response.tools } : {}),
          },
        });
        mount(
          result,
          `${approve ? 'Approved' : 'Rejected'}: continued as `,
          h('a', { href: `/ui/runs?id=${next.id}`, class: 'mono' }, next.id),
          ` (${next.status})`,
        );
      } catch (error) {
        mount(
          result,
          h(
            'span',
            { class: 'error' },
            `Could not answer: ${/** @type {Error} */ (error).message}`,
          ),
        );
      }
    };
    body.push(
      h(
        'div',
        { class: 'row' },
        h('button', { class: 'primary', onclick: answer(true) }, 'Approve'),
        h('button', { class: 'danger', onclick: answer(false) }, 'Reject'),
        result,
      ),
    );
  }
  return h(
    'div',
    { class: 'item', 'data-type': item.type },
    h('div', { class: 'kind' }, kind, item.status ? ` · ${item.status}` : ''),
    body,
  );
}

/** @type {import('./app.js').Page} */
export async function runsPage(main, { params, go }) {
  const input = h('input', {
    placeholder: 'resp_… or conv_…',
    value: params.get('id') ?? '',
    style: 'min-width:320px',
  });
  const detail = h('div');
  const open = (/** @type {string} */ id) => go(`/ui/runs${query({ id })}`);
  mount(
    main,
    h(
      'div',
      { class: 'head' },
      h(
        'div',
        null,
        h('h1', null, 'Conversations & runs'),
        h(
          'div',
          { class: 'sub' },
          'Follow a response chain, a conversation, an agent run step by step',
        ),
      ),
    ),
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (/** @type {Event} */ event) => (
          event.preventDefault(), open(/** @type {HTMLInputElement} */ (input).value.trim())
        ),
      },
      h('label', null, 'Response or conversation id', input),
      h('button', { class: 'primary', type: 'submit' }, 'Open'),
    ),
    detail,
  );
  const id = params.get('id');
  if (!id) {
    const recent = await api('/admin/v1/dashboard/responses?limit=50');
    mount(
      detail,
      h(
        'section',
        { class: 'panel' },
        h('h2', null, 'Recent responses'),
        table(
          [
            [
              'Response',
              (/** @type {any} */ row) =>
                h(
                  'a',
                  {
                    href: `/ui/runs?id=${row.id}`,
                    class: 'mono',
                    onclick: (/** @type {Event} */ event) => (event.preventDefault(), open(row.id)),
                  },
                  row.id,
                ),
            ],
            ['Status', (/** @type {any} */ row) => statusBadge(row.status)],
            ['Model', (/** @type {any} */ row) => row.model],
            ['Tenant', (/** @type {any} */ row) => row.tenantId],
            [
              'Chain',
              (/** @type {any} */ row) =>
                row.previousResponseId
                  ? h('span', { class: 'mono sub' }, `after ${row.previousResponseId}`)
                  : '–',
            ],
            [
              'Conversation',
              (/** @type {any} */ row) =>
                row.conversationId
                  ? h(
                      'a',
                      {
                        href: `/ui/runs?id=${row.conversationId}`,
                        class: 'mono',
                        onclick: (/** @type {Event} */ event) => (
                          event.preventDefault(), open(row.conversationId)
                        ),
                      },
                      row.conversationId,
                    )
                  : '–',
            ],
            ['Created', (/** @type {any} */ row) => when(row.createdAt)],
          ],
          recent.data,
          'No stored responses yet (POST /v1/responses with store: true).',
        ),
      ),
    );
    return;
  }
  if (id.startsWith('conv')) {
    const conversation = await api(`/admin/v1/dashboard/conversations/${encodeURIComponent(id)}`);
    mount(
      detail,
      h(
        'section',
        { class: 'panel' },
        h('h2', null, `Conversation ${conversation.id}`),
        h(
          'div',
          { class: 'sub' },
          `tenant ${conversation.tenantId} · created ${when(conversation.createdAt)} · ${conversation.items.length} items`,
        ),
        h(
          'div',
          { class: 'items' },
          conversation.items.map((/** @type {any} */ item) => itemView(item)),
        ),
      ),
    );
    return;
  }
  // A response chain: follow previous_response_id back, then show the steps oldest first.
  const chain = [];
  /** @type {string | null} */
  let cursor = id;
  while (cursor && chain.length < 20) {
    const found = await api(`/admin/v1/dashboard/responses/${encodeURIComponent(cursor)}`);
    chain.unshift(found);
    cursor = found.response.previous_response_id ?? null;
  }
  mount(
    detail,
    chain.map((/** @type {any} */ entry, /** @type {number} */ index) => {
      const response = entry.response;
      const steps = response.output ?? [];
      return h(
        'section',
        { class: 'panel model', 'data-response': response.id },
        h(
          'h2',
          null,
          `${index + 1}. `,
          h('span', { class: 'mono' }, response.id),
          ' ',
          statusBadge(response.status),
        ),
        h(
          'div',
          { class: 'sub' },
          `${response.model} · tenant ${entry.tenantId} · ${when((response.created_at ?? 0) * 1000)}${response.usage ? ` · ${response.usage.input_tokens} in / ${response.usage.output_tokens} out` : ''}`,
        ),
        h('h2', { style: 'margin-top:12px' }, 'Input'),
        h(
          'div',
          { class: 'items' },
          entry.inputItems.length
            ? entry.inputItems.map((/** @type {any} */ item) => itemView(item))
            : h('div', { class: 'sub' }, '(carried over from the previous response)'),
        ),
        h('h2', { style: 'margin-top:12px' }, `Steps and output (${steps.length})`),
        h(
          'div',
          { class: 'items' },
          steps.map((/** @type {any} */ item) => itemView(item, response)),
        ),
      );
    }),
  );
}
