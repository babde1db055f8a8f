// @ts-check
/** The dashboard shell: login, navigation, and the page router under /ui. */
import { api, session, whenUnauthorized } from './api.js';
import { h, mount } from './dom.js';
import { keysPage } from './page-keys.js';
import { overviewPage } from './page-overview.js';
import { partnersPage } from './page-partners.js';
import { routingPage } from './page-routing.js';
import { runsPage } from './page-runs.js';
import { usagePage } from './page-usage.js';
import { whatifPage } from './page-whatif.js';

/**
 * A page renders into `main` and may return a cleanup (timers).
 * @typedef {(main: HTMLElement, context: { params: URLSearchParams, go: (path: string) => void }) => (void | (() => void) | Promise<void | (() => void)>)} Page
 */

/** @type {Array<{ path: string, title: string, page: Page }>} */
const PAGES = [
  { path: '', title: 'Overview', page: overviewPage },
  { path: 'routing', title: 'Routing', page: routingPage },
  { path: 'usage', title: 'Usage & spend', page: usagePage },
  { path: 'partners', title: 'Partners', page: partnersPage },
  { path: 'whatif', title: 'What-if', page: whatifPage },
  { path: 'runs', title: 'Conversations & runs', page: runsPage },
  { path: 'keys', title: 'Keys', page: keysPage },
];

const root = /** @type {HTMLElement} */ (document.getElementById('root'));
/** @type {(() => void) | undefined} */
let cleanup;

/** @param {string} path */
function go(path) {
  history.pushState(null, '', path);
  void render();
}

function current() {
  const name = location.pathname.replace(/^\/ui\/?/, '').split('/')[0] ?? '';
  return PAGES.find((page) => page.path === name) ?? PAGES[0];
}

function login(message = '') {
  cleanup?.();
  cleanup = undefined;
  const input = h('input', {
    type: 'password',
    name: 'key',
    placeholder: 'sk-…',
    autocomplete: 'off',
    required: true,
    'aria-label': 'Master key',
  });
  const error = h('div', { class: 'error', role: 'alert' }, message);
  const form = h(
    'form',
    {
      async onsubmit(/** @type {Event} */ event) {
        event.preventDefault();
        const key = /** @type {HTMLInputElement} */ (input).value.trim();
        try {
          await api('/admin/v1/usage/dimensions', { key });
          session.set(key);
          void render();
        } catch (thrown) {
          mount(
            error,
            /** @type {any} */ (thrown).status === 403
              ? 'This key is not an admin key.'
              : /** @type {any} */ (thrown).status === 401
                ? 'Unknown key.'
                : String(/** @type {any} */ (thrown).message),
          );
        }
      },
    },
    h('h1', null, h('img', { src: '/ui/favicon.svg', alt: '' }), 'Switchyard'),
    h(
      'div',
      { class: 'sub' },
      'Sign in with the master key (or an admin key). It is kept in this tab only.',
    ),
    h('label', null, 'Key', input),
    error,
    h('button', { class: 'primary', type: 'submit' }, 'Sign in'),
  );
  mount(root, h('div', { class: 'login' }, form));
  input.focus();
}

async function render() {
  const started = performance.now();
  cleanup?.();
  cleanup = undefined;
  if (!session.key) {
    // A loopback server without a master key accepts no key: try once before asking.
    try {
      await api('/admin/v1/usage/dimensions', { key: '' });
      session.set('');
    } catch {
      login();
      return;
    }
  }
  const active = current();
  const main = h('main', { 'data-page': active.path || 'overview' });
  const nav = h(
    'nav',
    { class: 'side' },
    h('div', { class: 'brand' }, h('img', { src: '/ui/favicon.svg', alt: '' }), 'Switchyard'),
    PAGES.map((page) =>
      h(
        'a',
        {
          href: `/ui/${page.path}`,
          class: page === active ? 'active' : '',
          onclick: (/** @type {MouseEvent} */ event) => (
            event.preventDefault(), go(`/ui/${page.path}`)
          ),
        },
        page.title,
      ),
    ),
    h('div', { class: 'spacer' }),
    h('button', { onclick: () => (session.clear(), login()) }, 'Sign out'),
  );
  mount(root, h('div', { class: 'shell' }, nav, main));
  document.title = `${active.title} · Switchyard`;
  try {
    const result = await active.page(main, { params: new URLSearchParams(location.search), go });
    if (typeof result === 'function') cleanup = result;
    // How long the page took, from navigation to its data on screen (read by the browser tests).
    main.dataset['loadMs'] = String(Math.round(performance.now() - started));
  } catch (error) {
    main.append(
      h(
        'div',
        { class: 'error' },
        `Could not load this page: ${/** @type {Error} */ (error).message}`,
      ),
    );
  }
}

whenUnauthorized(() => {
  session.clear();
  login('The key was refused; sign in again.');
});
window.addEventListener('popstate', () => render());
void render();
