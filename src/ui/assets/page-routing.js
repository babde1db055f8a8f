// @ts-check
/**
 * Routing: each model's deployments with partner, health, breaker, latency, licence window,
 * net cost (lowest-net-cost), reserved capacity and current order.
 */
import { api } from './api.js';
import { badge, clock, h, mount, ms, num, percent, table, usd, when } from './dom.js';

/** A USD decimal string from the API → text. @param {string | null | undefined} value */
function dollars(value) {
  return value === null || value === undefined ? '–' : usd(Number(value));
}

/**
 * The net cost of the reference request: net, then cloud plus each revenue-share clause at the
 * margin (rate, cap reached, outside its window).
 * @param {any} row
 */
function netCost(row) {
  const cost = row.net_cost;
  if (!cost) return '–';
  return h(
    'span',
    { 'data-net-cost': row.key },
    h('strong', { class: 'mono' }, dollars(cost.net_usd)),
    h(
      'div',
      { class: 'sub' },
      `cloud ${dollars(cost.cloud_usd)}`,
      cost.shares.map((/** @type {any} */ share) => [
        ' + ',
        h(
          'span',
          {
            'data-share': share.partner,
            title: `cap ${dollars(share.cap_usd)}, accrued ${dollars(share.accrued_usd)}`,
          },
          `${share.partner} ${dollars(share.share_usd)} `,
          badge(
            share.state === 'rate' ? percent(Number(share.rate)) : share.state.replaceAll('-', ' '),
            share.state === 'rate' ? 'info' : share.state === 'cap-reached' ? 'ok' : '',
          ),
        ),
      ]),
    ),
  );
}

/**
 * Reserved capacity: tokens this replica counted in the current minute of `reserved_tpm`, and
 * until when it is put last (its window used, or its upstream answered 429).
 * @param {any} row
 */
function reserved(row) {
  if (row.reserved_tpm === null || row.reserved_tpm === undefined) return 'pay-as-you-go';
  return h(
    'span',
    { 'data-reserved': row.key },
    h(
      'span',
      { class: 'mono' },
      `${num(row.reserved_used_tokens ?? 0)} / ${num(row.reserved_tpm)} TPM`,
    ),
    row.spilling_until
      ? [
          ' ',
          badge(
            `spilling until ${clock(row.spilling_until)} (${row.spilling_reason === 'upstream_429' ? 'upstream 429' : 'window used'})`,
            'warn',
          ),
        ]
      : null,
  );
}

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
    mount(
      stamp,
      view.strategy ? `${view.strategy} · as of ${when(view.at)}` : `as of ${when(view.at)}`,
    );
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
              ['Net cost', (/** @type {any} */ row) => netCost(row)],
              ['Reserved', (/** @type {any} */ row) => reserved(row)],
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
