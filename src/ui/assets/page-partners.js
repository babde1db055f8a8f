// @ts-check
/** Partners: health now, revenue share accrued against its cap, agreement and licence windows on a timeline, commitment burn-down, statements. */
import { ApiError, api, download } from './api.js';
import { badge, h, mount, table, usd } from './dom.js';

const YEAR = 365.25 * 86_400_000;

/**
 * Agreement and licence windows on one time axis, with a "now" marker.
 * @param {Array<{ label: string, from: string | null, until: string | null, color: string }>} windows
 */
function timeline(windows) {
  const now = Date.now();
  const times = windows
    .flatMap((window) => [window.from, window.until])
    .filter((value) => value !== null)
    .map((value) => Date.parse(/** @type {string} */ (value)));
  const start = Math.min(now - YEAR, ...times);
  const end = Math.max(now + YEAR, ...times);
  const x = (/** @type {number} */ t) => `${(((t - start) / (end - start)) * 100).toFixed(2)}%`;
  const ticks = [];
  for (
    let year = new Date(start).getUTCFullYear() + 1;
    year <= new Date(end).getUTCFullYear();
    year += Math.max(1, Math.ceil((end - start) / YEAR / 8))
  )
    ticks.push(Date.UTC(year, 0, 1));
  return h(
    'div',
    null,
    windows.map((window) => [
      h(
        'div',
        { class: 'timeline-label' },
        `${window.label}: ${window.from?.slice(0, 10) ?? 'always'} → ${window.until?.slice(0, 10) ?? 'open-ended'}`,
      ),
      h(
        'div',
        { class: 'timeline' },
        h('div', { class: 'track' }),
        h('div', {
          class: 'win',
          style: `left:${x(window.from ? Date.parse(window.from) : start)};width:calc(${x(window.until ? Date.parse(window.until) : end)} - ${x(window.from ? Date.parse(window.from) : start)});top:5px;background:${window.color}`,
        }),
        h('div', { class: 'now', title: 'now', style: `left:${x(now)};top:0;bottom:0` }),
      ),
    ]),
    h(
      'div',
      { class: 'timeline', style: 'height:18px' },
      ticks.map((tick) =>
        h(
          'div',
          { class: 'tick', style: `left:${x(tick)}` },
          String(new Date(tick).getUTCFullYear()),
        ),
      ),
    ),
  );
}

/**
 * Calls the billing API, or returns null when this build has none (404 on an unknown path).
 * @param {string} path
 */
async function optional(path) {
  try {
    return await api(path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/**
 * The statements block: the latest billing periods with a CSV download each.
 * @param {string} partner @param {any[] | null} periods
 */
function statements(partner, periods) {
  if (periods === null)
    return h(
      'div',
      { class: 'notice', 'data-unavailable': 'statements' },
      'Period statements are not available in this build (no billing statements API).',
    );
  if (periods.length === 0) return h('div', { class: 'sub' }, 'No billing periods yet.');
  return h(
    'div',
    { class: 'row' },
    periods.slice(0, 6).map((period) =>
      h(
        'button',
        {
          'data-statement': period.id,
          title: `${period.starts_at.slice(0, 10)} → ${period.ends_at.slice(0, 10)}`,
          onclick: () =>
            void download(
              `/admin/v1/billing/statements/partner/${encodeURIComponent(partner)}/${encodeURIComponent(period.id)}?format=csv`,
              `statement-${partner}-${period.id}.csv`,
            ),
        },
        `⬇ ${period.id}`,
        ' ',
        badge(period.status, period.status === 'closed' ? 'ok' : 'info'),
      ),
    ),
  );
}

/**
 * Committed spend burn-down (`partners.<id>.commitment`): consumed against committed this
 * period, the projection to its end, and an under-use warning (GET /admin/v1/billing/commitments).
 * @param {any} row
 */
function commitment(row) {
  const committed = Number(row.committed);
  const consumed = Number(row.consumed);
  const projected = Number(row.projected);
  const ratio = committed > 0 ? Math.min(1, consumed / committed) : 1;
  return h(
    'div',
    { style: 'margin-top:12px', 'data-commitment': row.partner },
    h('div', { class: 'sub', style: 'margin-bottom:6px' }, `Commitment, ${row.period}`),
    h(
      'div',
      { class: 'row' },
      h('strong', null, `Consumed ${usd(consumed)}`),
      h(
        'span',
        { class: 'sub' },
        `of ${usd(committed)} committed (${(ratio * 100).toFixed(1)}%), ${row.elapsed_percent}% of the period gone`,
      ),
      row.warn
        ? badge('under-use', 'bad')
        : row.under_use
          ? badge('behind', 'warn')
          : badge('on track', 'ok'),
    ),
    h(
      'div',
      {
        class: 'progress',
        role: 'progressbar',
        'aria-valuenow': (ratio * 100).toFixed(2),
        'aria-valuemin': '0',
        'aria-valuemax': '100',
      },
      h('span', { style: `width:${Math.max(ratio * 100, consumed > 0 ? 0.5 : 0)}%` }),
    ),
    h(
      'div',
      { class: 'sub' },
      `Projected ${usd(projected)} by ${row.ends_at.slice(0, 10)} at the current rate${row.under_use ? `: ${usd(Number(row.shortfall))} short.` : '.'}`,
    ),
  );
}

/** Tone of a coverage status. @param {string} status @param {boolean} ending */
function coverageTone(status, ending) {
  if (status === 'gap' || status === 'ended') return 'bad';
  if (ending || status === 'not_yet') return 'warn';
  if (status === 'covered' || status === 'direct') return 'ok';
  return 'info';
}

/**
 * Agreement coverage (GET /admin/v1/agreements/coverage, as `switchyard agreements coverage`):
 * every model × partner × API kind × region, gaps and licences ending within 90 days flagged.
 * @param {any} report
 */
function coverage(report) {
  if (report === null)
    return h(
      'div',
      { class: 'notice', 'data-unavailable': 'coverage' },
      'Agreement coverage is not available in this build.',
    );
  const gaps = report.gaps.map((/** @type {any} */ gap) => `${gap.model} (${gap.api})`);
  const ending = report.rows.filter((/** @type {any} */ row) => row.ending).length;
  return h(
    'section',
    { class: 'panel', 'data-coverage': '' },
    h('h2', null, 'Agreement coverage'),
    h(
      'div',
      { class: 'row' },
      gaps.length
        ? [
            badge(`${gaps.length} uncovered`, 'bad'),
            h('span', { class: 'sub', 'data-gaps': '' }, gaps.join(', ')),
          ]
        : badge('every model and API kind covered', 'ok'),
      ending ? badge(`${ending} ending within 90 days`, 'warn') : null,
    ),
    table(
      [
        ['Model', (/** @type {any} */ row) => row.model],
        ['Partner', (/** @type {any} */ row) => row.partner ?? '(direct)'],
        ['API', (/** @type {any} */ row) => row.api],
        ['Region', (/** @type {any} */ row) => row.region ?? '—'],
        [
          'Status',
          (/** @type {any} */ row) =>
            badge(row.ending ? 'ending' : row.status, coverageTone(row.status, row.ending)),
        ],
        [
          'Licence',
          (/** @type {any} */ row) =>
            row.licence
              ? `${row.licence.exclusive ? 'exclusive, ' : ''}${row.licence.from?.slice(0, 10) ?? '…'} → ${row.licence.until?.slice(0, 10) ?? '…'}`
              : '—',
        ],
        [
          'Share',
          (/** @type {any} */ row) =>
            row.share
              ? `${(Number(row.share.rate) * 100).toFixed(1)}%${row.share.cap ? `, cap ${usd(Number(row.share.cap))}` : ''}`
              : '—',
        ],
        [
          'Ends',
          (/** @type {any} */ row) =>
            row.endsAt ? `${row.endsAt.slice(0, 10)} (${row.endsInDays} d)` : '—',
        ],
        ['Why', (/** @type {any} */ row) => row.reason ?? ''],
      ],
      report.rows,
      'No models configured.',
    ),
  );
}

/** @type {import('./app.js').Page} */
export async function partnersPage(main) {
  const [partners, agreements, periods, commitments, health, covered] = await Promise.all([
    api('/admin/v1/dashboard/partners'),
    optional('/admin/v1/billing/agreements'),
    optional('/admin/v1/billing/periods'),
    optional('/admin/v1/billing/commitments'),
    optional('/admin/v1/dashboard/health'),
    optional('/admin/v1/agreements/coverage'),
  ]);
  /** @type {Map<string, any>} */
  const states = new Map((health?.data ?? []).map((/** @type {any} */ item) => [item.id, item]));
  const ordered =
    periods === null
      ? null
      : [...periods.data].sort((/** @type {any} */ a, /** @type {any} */ b) =>
          b.starts_at.localeCompare(a.starts_at),
        );
  const commitmentRow = (/** @type {string} */ id) => {
    const row = commitments?.data.find((/** @type {any} */ item) => item.partner === id);
    return row ? commitment(row) : null;
  };
  const cards = partners.data.map((/** @type {any} */ partner) => {
    // The ledger's exact accrual when billing is there; else the roll-up estimate.
    const clause = agreements?.data.find(
      (/** @type {any} */ item) => item.partner === partner.id && item.status === 'active',
    );
    const estimate = partner.revenueShare;
    const share = clause
      ? {
          rate: clause.rate,
          accrued: Number(clause.accrued),
          cap: clause.cap === null ? null : Number(clause.cap),
          basisTotal: Number(clause.basis_total),
          basis: clause.basis,
          from: clause.from,
          until: clause.until,
          source: 'ledger',
        }
      : estimate && {
          rate: estimate.rate,
          accrued: estimate.accruedUsd,
          cap: estimate.cap === null ? null : Number(estimate.cap),
          basisTotal: estimate.revenueUsd,
          basis: estimate.basis,
          from: estimate.from,
          until: estimate.until,
          source: 'estimate',
        };
    const ratio = share?.cap ? Math.min(1, share.accrued / share.cap) : 0;
    const capped =
      share !== null && share !== undefined && share.cap !== null && share.accrued >= share.cap;
    const windows = [];
    if (partner.licence)
      windows.push({
        label: `licence${partner.licence.exclusive ? ' (exclusive)' : ''}`,
        from: partner.licence.from,
        until: partner.licence.until,
        color: 'var(--c1)',
      });
    if (share)
      windows.push({
        label: `revenue share ${(Number(share.rate) * 100).toFixed(1)}%`,
        from: share.from,
        until: share.until,
        color: 'var(--c4)',
      });
    return h(
      'section',
      { class: 'panel model', 'data-partner': partner.id },
      h(
        'h2',
        null,
        partner.name,
        ' ',
        h('span', { class: 'sub mono' }, partner.id),
        partner.primary ? [' ', badge('primary partner', 'info')] : null,
        states.has(partner.id)
          ? [
              ' ',
              h(
                'span',
                {
                  'data-health-state': states.get(partner.id).state,
                  title: `${states.get(partner.id).reason} (last 5 minutes; details on the Overview)`,
                },
                badge(
                  states.get(partner.id).state,
                  { healthy: 'ok', degraded: 'warn', down: 'bad' }[
                    /** @type {'healthy' | 'degraded' | 'down'} */ (states.get(partner.id).state)
                  ] ?? '',
                ),
              ),
            ]
          : null,
      ),
      share
        ? h(
            'div',
            null,
            h(
              'div',
              { class: 'row' },
              h('strong', null, `Accrued ${usd(share.accrued)}`),
              h(
                'span',
                { class: 'sub' },
                share.cap === null
                  ? 'no cap'
                  : `of ${usd(share.cap)} cap (${(ratio * 100).toFixed(ratio < 0.01 ? 4 : 1)}%)`,
              ),
              capped ? badge('cap reached', 'bad') : null,
              badge(
                share.source === 'ledger' ? 'ledger' : 'estimate',
                share.source === 'ledger' ? 'ok' : 'warn',
              ),
            ),
            h(
              'div',
              {
                class: `progress${capped ? ' full' : ''}`,
                role: 'progressbar',
                'aria-valuenow': (ratio * 100).toFixed(4),
                'aria-valuemin': '0',
                'aria-valuemax': '100',
              },
              h('span', { style: `width:${Math.max(ratio * 100, share.accrued > 0 ? 0.5 : 0)}%` }),
            ),
            h(
              'div',
              { class: 'sub' },
              `${(Number(share.rate) * 100).toFixed(1)}% of ${share.basis} revenue ${usd(share.basisTotal)} counted toward the share${share.source === 'ledger' ? ' (from the billing ledger).' : '; estimated from usage roll-ups (no billing ledger in this build).'}`,
            ),
          )
        : h('div', { class: 'sub' }, 'No revenue-share agreement.'),
      windows.length
        ? h(
            'div',
            { style: 'margin-top:12px' },
            h('div', { class: 'sub' }, 'Agreement and licence windows'),
            timeline(windows),
          )
        : h(
            'div',
            { class: 'sub', style: 'margin-top:8px' },
            'No licence window: may serve any time.',
          ),
      commitmentRow(partner.id),
      h(
        'div',
        { style: 'margin-top:12px' },
        h('div', { class: 'sub', style: 'margin-bottom:6px' }, 'Period statements'),
        statements(partner.id, ordered),
      ),
    );
  });
  mount(
    main,
    h(
      'div',
      { class: 'head' },
      h(
        'div',
        null,
        h('h1', null, 'Partners'),
        h('div', { class: 'sub' }, 'Agreements, licences and what each cloud partner is owed'),
      ),
    ),
    cards.length ? cards : h('div', { class: 'notice' }, 'No partners configured.'),
    coverage(covered),
  );
}
