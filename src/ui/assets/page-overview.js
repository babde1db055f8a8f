// @ts-check
/**
 * Overview: partner health (which cloud is failing now); traffic, errors, latency percentiles and
 * tokens over time; latency and error rates per model or partner; top models and tenants.
 */
import { api, query } from './api.js';
import { lineChart } from './charts.js';
import { bar, h, mount, ms, num, percent, stat, table, usd } from './dom.js';
import { healthCards, latencyTable } from './health.js';

const RANGES = ['15m', '1h', '6h', '24h', '7d'];

/** @type {import('./app.js').Page} */
export function overviewPage(main, { params, go }) {
  let range = params.get('range') ?? '1h';
  /** Latency table grouped by model or partner. */
  let by = params.get('by') === 'partner' ? 'partner' : 'model';
  const here = () => `/ui/?${new URLSearchParams({ range, by })}`;
  const body = h('div');
  const segment = h('div', { class: 'seg' });
  const drawSegment = () =>
    mount(
      segment,
      RANGES.map((item) =>
        h(
          'button',
          {
            class: item === range ? 'on' : '',
            onclick: () => (
              (range = item), history.replaceState(null, '', here()), drawSegment(), refresh()
            ),
          },
          item,
        ),
      ),
    );
  drawSegment();
  mount(
    main,
    h(
      'div',
      { class: 'head' },
      h(
        'div',
        null,
        h('h1', null, 'Overview'),
        h('div', { class: 'sub' }, 'All traffic through this gateway'),
      ),
      h('div', { class: 'row' }, h('span', { class: 'live' }, 'live'), segment),
    ),
    body,
  );

  const bySegment = h('div', { class: 'seg', 'data-by': '' });
  const drawBy = () =>
    mount(
      bySegment,
      ['model', 'partner'].map((item) =>
        h(
          'button',
          {
            class: item === by ? 'on' : '',
            onclick: () => (
              (by = item), history.replaceState(null, '', here()), drawBy(), refresh()
            ),
          },
          `by ${item}`,
        ),
      ),
    );
  drawBy();

  let stopped = false;
  async function refresh() {
    const [summary, health, latency] = await Promise.all([
      api(`/admin/v1/metrics/summary${query({ range, top: 'models,tenants' })}`),
      api('/admin/v1/dashboard/health'),
      api(`/admin/v1/dashboard/latency${query({ range, by })}`),
    ]);
    if (stopped) return;
    const { totals, series, top } = summary;
    const times = series.map((/** @type {any} */ point) => point.at);
    const column = (/** @type {string} */ name) =>
      series.map((/** @type {any} */ point) => point[name]);
    const maxModel = Math.max(0, ...top.models.map((/** @type {any} */ row) => row.requests));
    const maxTenant = Math.max(0, ...top.tenants.map((/** @type {any} */ row) => row.requests));
    const bucketMs = summary.bucket_minutes * 60_000;
    mount(
      body,
      h(
        'section',
        { 'data-section': 'health' },
        h(
          'h2',
          { class: 'section-title' },
          'Partner health ',
          h('span', { class: 'sub' }, 'last 5 minutes'),
        ),
        healthCards(health.data),
      ),
      h(
        'div',
        { class: 'grid cards' },
        stat(
          'Requests',
          num(totals.requests),
          `${(totals.requests / Math.max(1, (summary.to - summary.from) / 60_000)).toFixed(1)} per minute`,
        ),
        stat(
          'Error rate',
          percent(totals.requests ? totals.errors / totals.requests : 0),
          `${num(totals.errors)} errors`,
        ),
        stat('Latency p95', ms(totals.p95Ms), `p50 ${ms(totals.p50Ms)} · p99 ${ms(totals.p99Ms)}`),
        stat('Tokens in / out', `${num(totals.inputTokens)} / ${num(totals.outputTokens)}`),
        stat('Revenue', usd(totals.revenueUsd), `cost ${usd(totals.costUsd)}`),
      ),
      h(
        'div',
        { class: 'grid two' },
        h(
          'section',
          { class: 'panel' },
          h('h2', null, 'Traffic'),
          lineChart({
            times,
            bucketMs,
            series: [
              { name: 'requests', values: column('requests'), area: true },
              { name: 'errors', values: column('errors'), color: 'var(--c5)' },
            ],
            format: num,
          }),
        ),
        h(
          'section',
          { class: 'panel' },
          h('h2', null, 'Latency percentiles'),
          lineChart({
            times,
            bucketMs,
            series: [
              { name: 'p50', values: column('p50Ms') },
              { name: 'p95', values: column('p95Ms') },
              { name: 'p99', values: column('p99Ms') },
            ],
            format: ms,
          }),
        ),
        h(
          'section',
          { class: 'panel' },
          h('h2', null, 'Tokens'),
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
          h('h2', null, 'Revenue and cost'),
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
        h(
          'section',
          { class: 'panel wide', 'data-section': 'latency' },
          h(
            'div',
            { class: 'row spread' },
            h('h2', null, `Latency and errors by ${by} (${range})`),
            bySegment,
          ),
          latencyTable(latency.data, by === 'model' ? 'Model' : 'Partner'),
        ),
        h(
          'section',
          { class: 'panel' },
          h('h2', null, 'Top models'),
          table(
            [
              [
                'Model',
                (/** @type {any} */ row) =>
                  h(
                    'a',
                    {
                      href: `/ui/usage?model=${encodeURIComponent(row.key)}`,
                      onclick: (/** @type {Event} */ event) => (
                        event.preventDefault(), go(`/ui/usage?model=${encodeURIComponent(row.key)}`)
                      ),
                    },
                    row.key || '(none)',
                  ),
              ],
              ['', (/** @type {any} */ row) => bar(row.requests, maxModel)],
              ['Requests', (/** @type {any} */ row) => num(row.requests), 'num'],
              ['Errors', (/** @type {any} */ row) => num(row.errors), 'num'],
              [
                'Tokens',
                (/** @type {any} */ row) => num(row.inputTokens + row.outputTokens),
                'num',
              ],
              ['Revenue', (/** @type {any} */ row) => usd(row.revenueUsd), 'num'],
            ],
            top.models,
          ),
        ),
        h(
          'section',
          { class: 'panel' },
          h('h2', null, 'Top tenants'),
          table(
            [
              ['Tenant', (/** @type {any} */ row) => row.key],
              ['', (/** @type {any} */ row) => bar(row.requests, maxTenant)],
              ['Requests', (/** @type {any} */ row) => num(row.requests), 'num'],
              [
                'Tokens',
                (/** @type {any} */ row) => num(row.inputTokens + row.outputTokens),
                'num',
              ],
              ['Revenue', (/** @type {any} */ row) => usd(row.revenueUsd), 'num'],
            ],
            top.tenants,
          ),
        ),
      ),
    );
  }
  const timer = setInterval(() => void refresh().catch(() => {}), 5000);
  return refresh().then(() => () => {
    stopped = true;
    clearInterval(timer);
  });
}
