// @ts-check
/** Partners: revenue share accrued against its cap, agreement and licence windows on a timeline, statements. */
import { ApiError, api, download } from './api.js';
import { badge, h, mount, usd } from './dom.js';

const YEAR = 365.25 * 86_400_000;

/**
 * Agreement and licence windows on one time axis, with a "now" marker.
 * @param {Array<{ label: string, from: string | null, until: string | null, color: string }>} windows
 */
function timeline(windows) {
  const now = Date.now();
  const times = windows.flatMap((window) => [window.from, window.until]).filter((value) => value !== null).map((value) => Date.parse(/** @type {string} */ (value)));
  const start = Math.min(now - YEAR, ...times);
  const end = Math.max(now + YEAR, ...times);
  const x = (/** @type {number} */ t) => `${(((t - start) / (end - start)) * 100).toFixed(2)}%`;
  const ticks = [];
  for (let year = new Date(start).getUTCFullYear() + 1; year <= new Date(end).getUTCFullYear(); year += Math.max(1, Math.ceil((end - start) / YEAR / 8))) ticks.push(Date.UTC(year, 0, 1));
  return h(
    'div',
    null,
    windows.map((window) => [
      h('div', { class: 'timeline-label' }, `${window.label}: ${window.from?.slice(0, 10) ?? 'always'} → ${window.until?.slice(0, 10) ?? 'open-ended'}`),
      h(
        'div',
        { class: 'timeline' },
        h('div', { class: 'track' }),
        h('div', { class: 'win', style: `left:${x(window.from ? Date.parse(window.from) : start)};width:calc(${x(window.until ? Date.parse(window.until) : end)} - ${x(window.from ? Date.parse(window.from) : start)});top:5px;background:${window.color}` }),
        h('div', { class: 'now', title: 'now', style: `left:${x(now)};top:0;bottom:0` }),
      ),
    ]),
    h('div', { class: 'timeline', style: 'height:18px' }, ticks.map((tick) => h('div', { class: 'tick', style: `left:${x(tick)}` }, String(new Date(tick).getUTCFullYear())))),
  );
}

/**
 * The statements block: lists and downloads statements from the billing API when this build
 * has it; otherwise says so.
 * @param {string} partner
 */
async function statements(partner) {
  const box = h('div');
  try {
    const list = await api(`/admin/v1/partners/${encodeURIComponent(partner)}/statements`);
    const items = list.data ?? [];
    mount(
      box,
      items.length === 0
        ? h('div', { class: 'sub' }, 'No statements yet.')
        : h('div', { class: 'row' }, items.map((/** @type {any} */ statement) => h('button', { 'data-statement': statement.period ?? statement.id, onclick: () => void download(`/admin/v1/partners/${encodeURIComponent(partner)}/statements/${encodeURIComponent(statement.period ?? statement.id)}.csv`, `statement-${partner}-${statement.period ?? statement.id}.csv`) }, `⬇ ${statement.period ?? statement.id}`, statement.status ? ` (${statement.status})` : ''))),
    );
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    mount(box, h('div', { class: 'notice', 'data-unavailable': 'statements' }, 'Period statements are not available in this build (no billing statements API yet).'));
  }
  return box;
}

/** @type {import('./app.js').Page} */
export async function partnersPage(main) {
  const partners = await api('/admin/v1/dashboard/partners');
  const cards = await Promise.all(
    partners.data.map(async (/** @type {any} */ partner) => {
      const share = partner.revenueShare;
      const cap = share?.cap === null || share?.cap === undefined ? null : Number(share.cap);
      const ratio = share && cap ? Math.min(1, share.accruedUsd / cap) : 0;
      const windows = [];
      if (partner.licence) windows.push({ label: `licence${partner.licence.exclusive ? ' (exclusive)' : ''}`, from: partner.licence.from, until: partner.licence.until, color: 'var(--c1)' });
      if (share) windows.push({ label: `revenue share ${(Number(share.rate) * 100).toFixed(1)}%`, from: share.from, until: share.until, color: 'var(--c4)' });
      return h(
        'section',
        { class: 'panel model', 'data-partner': partner.id },
        h('h2', null, partner.name, ' ', h('span', { class: 'sub mono' }, partner.id), partner.primary ? [' ', badge('primary partner', 'info')] : null),
        share
          ? h(
              'div',
              null,
              h('div', { class: 'row' }, h('strong', null, `Accrued ${usd(share.accruedUsd)}`), h('span', { class: 'sub' }, cap === null ? 'no cap' : `of ${usd(cap)} cap (${(ratio * 100).toFixed(ratio < 0.01 ? 4 : 1)}%)`), share.capped ? badge('cap reached', 'bad') : null),
              h('div', { class: `progress${share.capped ? ' full' : ''}`, role: 'progressbar', 'aria-valuenow': (ratio * 100).toFixed(4), 'aria-valuemin': '0', 'aria-valuemax': '100' }, h('span', { style: `width:${Math.max(ratio * 100, share.accruedUsd > 0 ? 0.5 : 0)}%` })),
              h('div', { class: 'sub' }, `${(Number(share.rate) * 100).toFixed(1)}% of ${share.basis} revenue ${usd(share.revenueUsd)} served through ${partner.id}; estimate from usage roll-ups (the billing ledger is authoritative).`),
            )
          : h('div', { class: 'sub' }, 'No revenue-share agreement.'),
        windows.length ? h('div', { style: 'margin-top:12px' }, h('div', { class: 'sub' }, 'Agreement and licence windows'), timeline(windows)) : h('div', { class: 'sub' }, 'No licence window: may serve any time.'),
        h('div', { style: 'margin-top:12px' }, h('div', { class: 'sub', style: 'margin-bottom:6px' }, 'Period statements'), await statements(partner.id)),
      );
    }),
  );
  mount(main, h('div', { class: 'head' }, h('div', null, h('h1', null, 'Partners'), h('div', { class: 'sub' }, 'Agreements, licences and what each cloud partner is owed'))), cards.length ? cards : h('div', { class: 'notice' }, 'No partners configured.'));
}
