import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpContext, Route } from '../server/types.js';
import { merged } from '../core/objects.js';

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

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
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
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
  const files = new Map<string, Asset>();
  for (const name of readdirSync(directory)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(directory, name));
    files.set(name, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
    });
  }
  const index = files.get('index.html')!;
  // Revalidated on every load (no-cache + ETag): a new release is picked up at once, an unchanged asset costs a 304.
  const send = (context: HttpContext, file: Asset) => {
    const headers = merged(SECURITY_HEADERS, {
      'content-type': file.type,
      'cache-control': 'no-cache',
      etag: file.etag,
    });
    if (context.request.headers['if-none-match'] === file.etag) {
      context.response.writeHead(304, headers).end();
      return;
    }
    context.response.writeHead(200, merged(headers, { 'content-length': file.body.length }));
    context.response.end(file.body);
  };
  return [
    { method: 'GET', path: '/ui', handler: async (context) => send(context, index) },
    {
      method: 'GET',
      path: '/ui/*',
      async handler(context) {
        const name = context.params['*'] ?? '';
        // Unknown paths are client-side pages (/ui/usage): the app shell routes them.
        send(context, (name.includes('/') ? undefined : files.get(name)) ?? index);
      },
    },
  ];
}
