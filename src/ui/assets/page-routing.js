// @ts-check
/** Routing: each model's deployments with partner, health, breaker, latency, licence window and current order. */
import { api } from './api.js';
import { badge, clock, h, mount, ms, table, when } from './dom.js';

/** @param {string} state */
function breaker(state) {
  return badge(state, state === 'closed' ? 'ok' : state === 'open' ? 'bad' : 'warn');
}

/** @param {any} licence */
function licence(licence) {
  if (licence.excluded) return badge(licence.excluded.replaceAll('_', ' '), 'bad');
  const window =
    licence.from || licence.until
      ? `${licence.from ? licence.from.slice(0, 10) : '…'} → ${licence.until ? licence.until.slice(0, 10) : '…'}`
      : 'no window';
  return h(
    'span',
    null,
    badge('valid', 'ok'),
    ' ',
    h('span', { class: 'sub' }, window),
    licence.exclusive ? [' ', badge('exclusive', 'info')] : null,
  );
}

/** @type {import('./app.js').Page} */
export function routingPage(main) {
  const body = h('div');
  const stamp = h('span', { class: 'sub' });
  mount(
    main,
    h(
      'div',
      { class: 'head' },
      h(
        'div',
        null,
        h('h1', null, 'Routing'),
        h('div', { class: 'sub' }, 'Where each model goes now, in order'),
      ),
      h('div', { class: 'row' }, h('span', { class: 'live' }, 'live'), stamp),
    ),
    body,
  );
  let stopped = false;
  async function refresh() {
    const view = await api('/admin/v1/routing');
    if (stopped) return;
    mount(stamp, `as of ${when(view.at)}`);
    mount(
      body,
      view.data.map((/** @type {any} */ model) => {
        const byKey = new Map(
          model.deployments.map((/** @type {any} */ deployment) => [deployment.key, deployment]),
        );
        const sorted = [...model.deployments].sort(
          (a, b) => (a.position < 0 ? 1e9 : a.position) - (b.position < 0 ? 1e9 : b.position),
        );
        return h(
          'section',
          { class: 'panel model', 'data-model': model.model },
          h('h2', null, model.model, ' ', badge(model.kind, 'info')),
          h(
            'div',
            { class: 'order' },
            h('span', { class: 'sub' }, 'Order now:'),
            model.order.length === 0
              ? badge('no deployment may serve', 'bad')
              : model.order.map((/** @type {string} */ key, /** @type {number} */ index) => [
                  index > 0 ? '→' : null,
                  h(
                    'span',
                    { class: 'step' },
                    /** @type {any} */ (byKey.get(key))?.provider ?? key,
                  ),
                ]),
          ),
          table(
            [
              [
                '#',
                (/** @type {any} */ row) => (row.position >= 0 ? String(row.position + 1) : '–'),
              ],
              [
                'Deployment',
                (/** @type {any} */ row) =>
                  h(
                    'span',
                    null,
                    h('strong', null, row.provider),
                    ' ',
                    h('span', { class: 'sub mono' }, row.upstream_model),
                    row.sandbox ? [' ', badge('sandbox')] : null,
                  ),
              ],
              [
                'Partner',
                (/** @type {any} */ row) =>
                  h(
                    'span',
                    null,
                    row.partner ?? '–',
                    row.primary ? [' ', badge('primary', 'info')] : null,
                  ),
              ],
              ['Type', (/** @type {any} */ row) => h('span', { class: 'mono' }, row.type)],
              [
                'Health',
                (/** @type {any} */ row) =>
                  row.available
                    ? badge('available', 'ok')
                    : badge(
                        row.unavailable_until
                          ? `held until ${clock(row.unavailable_until)}`
                          : 'unavailable',
                        'bad',
                      ),
              ],
              ['Breaker', (/** @type {any} */ row) => breaker(row.breaker)],
              ['TTFB (est.)', (/** @type {any} */ row) => ms(row.ttfb_ms), 'num'],
              ['Latency (est.)', (/** @type {any} */ row) => ms(row.latency_ms), 'num'],
              ['Licence', (/** @type {any} */ row) => licence(row.licence)],
              [
                'Last error',
                (/** @type {any} */ row) =>
                  row.last_error
                    ? h(
                        'span',
                        { class: 'mono' },
                        row.last_error,
                        row.consecutive_failures ? ` ×${row.consecutive_failures}` : '',
                      )
                    : '–',
              ],
            ],
            sorted,
          ),
        );
      }),
    );
  }
  const timer = setInterval(() => void refresh().catch(() => {}), 3000);
  return refresh().then(() => () => {
    stopped = true;
    clearInterval(timer);
  });
}
