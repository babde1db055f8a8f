// @ts-check
/** What-if: replay stored usage through alternative agreements (pasted or picked YAML) and compare. */
import { api } from './api.js';
import { h, mount, table } from './dom.js';

const EXAMPLE = `# Entries replace the config's partners (and providers, models) of the same name.
partners:
  azure:
    primary: true
    license: { until: 2026-11-15 }
    revenueShare: { rate: "0.20", cap: "500000" }
`;

/** @param {string} value */
function signed(value) {
  return value.startsWith('-') || value.startsWith('+') || value === '0' ? value : `+${value}`;
}

/** The difference rows of one period (as `switchyard whatif` prints them). @param {any} period */
function lines(period) {
  const { baseline, alternative } = period;
  /** @type {Array<{ metric: string, baseline: string, alternative: string, difference: string }>} */
  const rows = [];
  const count = (/** @type {string} */ metric, /** @type {number} */ a, /** @type {number} */ b) =>
    rows.push({
      metric,
      baseline: String(a),
      alternative: String(b),
      difference: signed(String(b - a)),
    });
  const money = (/** @type {string} */ metric, /** @type {string} */ a, /** @type {string} */ b) =>
    rows.push({
      metric,
      baseline: a,
      alternative: b,
      // Exact µUSD: subtract as integers of micro-units, never as floats.
      difference: signed(micros(toMicros(b) - toMicros(a))),
    });
  count('requests', period.requests, period.requests);
  count('moved', 0, period.moved);
  const served = [
    ...new Set([...Object.keys(baseline.served), ...Object.keys(alternative.served)]),
  ].sort();
  for (const key of served)
    count(`served ${key}`, baseline.served[key] ?? 0, alternative.served[key] ?? 0);
  money('revenue', baseline.revenue, alternative.revenue);
  money('cost', baseline.cost, alternative.cost);
  const partners = [
    ...new Set([...Object.keys(baseline.accruals), ...Object.keys(alternative.accruals)]),
  ].sort();
  for (const partner of partners)
    money(
      `accrual ${partner}`,
      baseline.accruals[partner] ?? '0',
      alternative.accruals[partner] ?? '0',
    );
  money('share', baseline.share, alternative.share);
  money('margin', baseline.margin, alternative.margin);
  return rows;
}

/** @param {string} usd */
function toMicros(usd) {
  const negative = usd.startsWith('-');
  const [whole = '0', fraction = ''] = usd.replace(/^[-+]/, '').split('.');
  const value = BigInt(whole) * 1_000_000n + BigInt(`${fraction}000000`.slice(0, 6));
  return negative ? -value : value;
}

/** @param {bigint} value */
function micros(value) {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(7, '0');
  const fraction = digits.slice(-6).replace(/0+$/, '');
  return `${negative ? '-' : ''}${digits.slice(0, -6)}${fraction ? `.${fraction}` : ''}`;
}

/** @type {import('./app.js').Page} */
export function whatifPage(main) {
  const text = /** @type {HTMLTextAreaElement} */ (
    h('textarea', {
      name: 'agreements',
      rows: 12,
      spellcheck: 'false',
      'aria-label': 'Alternative agreements (YAML)',
    })
  );
  text.value = EXAMPLE;
  const today = new Date().toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
  const from = /** @type {HTMLInputElement} */ (
    h('input', { type: 'date', name: 'from', value: monthAgo })
  );
  const to = /** @type {HTMLInputElement} */ (
    h('input', { type: 'date', name: 'to', value: today })
  );
  const file = /** @type {HTMLInputElement} */ (
    h('input', {
      type: 'file',
      name: 'file',
      accept: '.yaml,.yml,.json,text/yaml',
      async onchange() {
        const picked = file.files?.[0];
        if (picked) text.value = await picked.text();
      },
    })
  );
  const status = h('div', { class: 'sub', role: 'status' });
  const result = h('div', { class: 'whatif-result' });
  const run = /** @type {HTMLButtonElement} */ (
    h(
      'button',
      {
        class: 'primary',
        async onclick() {
          run.disabled = true;
          mount(status, 'Replaying stored usage…');
          mount(result);
          try {
            const report = await api('/admin/v1/billing/whatif', {
              body: {
                agreements: text.value,
                from: from.value,
                // The end date is inclusive in the form: the window ends at the next midnight.
                to: new Date(Date.parse(`${to.value}T00:00:00Z`) + 86_400_000).toISOString(),
              },
            });
            mount(
              status,
              `${report.total.requests} requests from ${report.from.slice(0, 10)} to ${report.to.slice(0, 10)} (USD)`,
            );
            mount(
              result,
              [...report.periods, report.total].map((/** @type {any} */ period) =>
                h(
                  'div',
                  { class: 'panel', 'data-period': period.period },
                  h('h2', null, period.period === 'total' ? 'Total' : period.period),
                  table(
                    [
                      ['metric', (/** @type {any} */ row) => row.metric],
                      ['baseline', (/** @type {any} */ row) => row.baseline, 'num'],
                      ['alternative', (/** @type {any} */ row) => row.alternative, 'num'],
                      ['difference', (/** @type {any} */ row) => row.difference, 'num'],
                    ],
                    lines(period),
                  ),
                ),
              ),
            );
          } catch (error) {
            mount(
              status,
              h(
                'span',
                { class: 'error', role: 'alert' },
                String(/** @type {any} */ (error).message),
              ),
            );
          } finally {
            run.disabled = false;
          }
        },
      },
      'Run what-if',
    )
  );
  mount(
    main,
    h(
      'div',
      { class: 'head' },
      h(
        'div',
        null,
        h('h1', null, 'What-if'),
        h(
          'div',
          { class: 'sub' },
          'Replay stored usage through alternative agreements: dry-run routing and rating, nothing is written.',
        ),
      ),
    ),
    h(
      'div',
      { class: 'panel' },
      h('label', null, 'Alternative agreements (YAML: partners, providers, models)', text),
      h(
        'div',
        { class: 'row' },
        h('label', null, 'Or pick a file', file),
        h('label', null, 'From', from),
        h('label', null, 'To (inclusive)', to),
        run,
      ),
      status,
    ),
    result,
  );
}
