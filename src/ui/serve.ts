import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Route } from '../server/types.js';

/**
 * Serves the dashboard at /ui: static files from `src/ui/assets` (plain ES modules, CSS and
 * SVG, no build step, nothing fetched from the internet). The assets hold no data: every page
 * asks the admin API with the key the operator typed at the login page.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** Strict policy: scripts, styles and images from this origin only; API calls to this origin only. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Where the assets are: next to this module when run from source, under src/ when run from dist. */
export function assetsDirectory(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [join(here, 'assets'), join(here, '..', '..', 'src', 'ui', 'assets')];
  const found = candidates.find((candidate) => existsSync(join(candidate, 'index.html')));
  if (!found) throw new Error(`dashboard assets not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Loads every asset into memory once (they are small) and returns the /ui routes. */
export function createUiRoutes(directory: string = assetsDirectory()): Route[] {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(directory)) {
    const type = TYPES[extname(name)];
    if (type) files.set(name, { body: readFileSync(join(directory, name)), type });
  }
  const index = files.get('index.html')!;
  const send = (response: import('node:http').ServerResponse, file: { body: Buffer; type: string }, cache: string) => {
    response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': file.type, 'content-length': file.body.length, 'cache-control': cache });
    response.end(file.body);
  };
  return [
    { method: 'GET', path: '/ui', handler: async ({ response }) => send(response, index, 'no-cache') },
    {
      method: 'GET',
      path: '/ui/*',
      async handler({ response, params }) {
        const name = params['*'] ?? '';
        const file = name.includes('/') ? undefined : files.get(name);
        // Unknown paths are client-side pages (/ui/usage): the app shell routes them.
        send(response, file ?? index, file ? 'no-cache' : 'no-cache');
      },
    },
  ];
}
