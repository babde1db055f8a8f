// @ts-check
/** Usage and spend: filters, charts, a table of requests and a CSV export. */
import { api, download, query } from './api.js';
import { lineChart } from './charts.js';
import { badge, h, mount, ms, num, stat, table, usd, when } from './dom.js';

const FIELDS = [
  ['tenant', 'tenantId', 'Tenant'],
  ['project', 'projectId', 'Project'],
  ['key', 'keyId', 'Key'],
  ['model', 'model', 'Model'],
  ['partner', 'partner', 'Partner'],
  ['deployment', 'deployment', 'Cloud (deployment)'],
];
const RANGES = ['1h', '6h', '24h', '7d', '30d'];
const STATUSES = ['ok', 'error', 'aborted'];

/** @type {import('./app.js').Page} */
export async function usagePage(main, { params }) {
  /** @type {Record<string, string>} */
  const filter = { range: params.get('range') ?? '24h' };
  for (const [name] of FIELDS) filter[name] = params.get(name) ?? '';
  filter.status = params.get('status') ?? '';
  filter.error_code = params.get('error_code') ?? '';
  const dimensions = await api('/admin/v1/usage/dimensions');
  const controls = h(
    'div',
    { class: 'filters' },
    FIELDS.map(([name, field, label]) => {
      const values = [...new Set([...(dimensions[field] ?? []), filter[name]].filter(Boolean))];
      return h(
        'label',
        null,
        label,
        h(
          'select',
          {
            name,
            onchange: (/** @type {Event} */ event) => (
              (filter[name] = /** @type {HTMLSelectElement} */ (event.target).value), apply()
            ),
          },
          h('option', { value: '' }, 'all'),
          values.map((value) => h('option', { value, selected: value === filter[name] }, value)),
        ),
      );
    }),
    h(
      'label',
      null,
      'Status',
      h(
        'select',
        {
          name: 'status',
          onchange: (/** @type {Event} */ event) => {
            filter.status = /** @type {HTMLSelectElement} */ (event.target).value;
            void apply();
          },
        },
        h('option', { value: '' }, 'all'),
        STATUSES.map((value) => h('option', { value, selected: value === filter.status }, value)),
      ),
    ),
    h(
      'label',
      null,
      'Error code',
      h('input', {
        name: 'error_code',
        placeholder: 'e.g. upstream_unreachable',
        value: filter.error_code,
        onchange: (/** @type {Event} */ event) => {
          filter.error_code = /** @type {HTMLInputElement} */ (event.target).value.trim();
          void apply();
        },
      }),
    ),
    h(
      'label',
      null,
      'Time range',
      h(
        'select',
        {
          name: 'range',
          onchange: (/** @type {Event} */ event) => (
            (filter.range = /** @type {HTMLSelectElement} */ (event.target).value), apply()
          ),
        },
        RANGES.map((value) =>
          h('option', { value, selected: value === filter.range }, `last ${value}`),
        ),
      ),
    ),
    h(
      'button',
      { onclick: () => void download(`/admin/v1/usage/export.csv${query(filter)}`, 'usage.csv') },
      'Export CSV',
    ),
  );
  const cards = h('div', { class: 'grid cards' });
  const charts = h('div', { class: 'grid two' });
  const rows = h('div');
  const more = h('div', { class: 'row' });
  mount(
    main,
    h(
      'div',
      { class: 'head' },
      h(
        'div',
        null,
        h('h1', null, 'Usage & spend'),
        h('div', { class: 'sub' }, 'Every request, attributed to tenant, key, model and cloud'),
      ),
    ),
    controls,
    cards,
    charts,
    h('section', { class: 'panel' }, h('h2', null, 'Requests'), rows, more),
  );

  /** @type {any[]} */
  let loaded = [];
  async function apply() {
    history.replaceState(null, '', `/ui/usage${query(filter)}`);
    const [summary, page] = await Promise.all([
      api(`/admin/v1/metrics/summary${query({ ...filter, top: 'none' })}`),
      api(`/admin/v1/usage/events${query({ ...filter, limit: 50 })}`),
    ]);
    const { totals, series } = summary;
    const times = series.map((/** @type {any} */ point) => point.at);
    const column = (/** @type {string} */ name) =>
      series.map((/** @type {any} */ point) => point[name]);
    mount(
      cards,
      stat('Requests', num(totals.requests), `${num(totals.errors)} errors`),
      stat('Input tokens', num(totals.inputTokens)),
      stat('Output tokens', num(totals.outputTokens)),
      stat('Revenue', usd(totals.revenueUsd)),
      stat('Cost', usd(totals.costUsd), `margin ${usd(totals.revenueUsd - totals.costUsd)}`),
    );
    const bucketMs = summary.bucket_minutes * 60_000;
    mount(
      charts,
      h(
        'section',
        { class: 'panel' },
        h('h2', null, 'Tokens over time'),
        lineChart({
          times,
          bucketMs,
          series: [
            { name: 'input', values: column('inputTokens'), area: true },
            { name: 'output', values: column('outputTokens'), area: true },
          ],
          format: num,
        }),
      ),
      h(
        'section',
        { class: 'panel' },
        h('h2', null, 'Spend over time'),
        lineChart({
          times,
          bucketMs,
          series: [
            { name: 'revenue', values: column('revenueUsd'), color: 'var(--c4)', area: true },
            { name: 'cost', values: column('costUsd'), color: 'var(--c2)' },
          ],
          format: usd,
        }),
      ),
    );
    loaded = page.data;
    drawRows(page.has_more);
  }
  /** @param {boolean} hasMore */
  function drawRows(hasMore) {
    mount(
      rows,
      table(
        [
          ['Time', (/** @type {any} */ row) => when(row.createdAt)],
          ['Tenant / project', (/** @type {any} */ row) => `${row.tenantId} / ${row.projectId}`],
          ['Key', (/** @type {any} */ row) => h('span', { class: 'mono' }, row.keyId ?? '–')],
          ['Model', (/** @type {any} */ row) => row.model ?? '–'],
          [
            'Cloud',
            (/** @type {any} */ row) =>
              h(
                'span',
                null,
                row.deployment ?? '–',
                row.partner ? h('span', { class: 'sub' }, ` (${row.partner})`) : null,
              ),
          ],
          [
            'Status',
            (/** @type {any} */ row) =>
              badge(
                row.status === 'ok'
                  ? String(row.httpStatus)
                  : `${row.httpStatus} ${row.errorCode ?? row.status}`,
                row.status === 'ok' ? 'ok' : row.status === 'aborted' ? 'warn' : 'bad',
              ),
          ],
          ['In', (/** @type {any} */ row) => num(row.inputTokens), 'num'],
          ['Out', (/** @type {any} */ row) => num(row.outputTokens), 'num'],
          ['Latency', (/** @type {any} */ row) => ms(row.latencyMs), 'num'],
          ['Attempts', (/** @type {any} */ row) => String(row.attempts), 'num'],
        ],
        loaded,
        'No requests match these filters.',
      ),
    );
    mount(
      more,
      hasMore
        ? h(
            'button',
            {
              async onclick() {
                const last = loaded[loaded.length - 1];
                const page = await api(
                  `/admin/v1/usage/events${query({ ...filter, limit: 50, before_at: last.createdAt, before_id: last.requestId })}`,
                );
                loaded = [...loaded, ...page.data];
                drawRows(page.has_more);
              },
            },
            'Load more',
          )
        : null,
    );
  }
  await apply();
}
