import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's Chromium, driven by playwright-core (no browser download of Playwright's own). */
export const CHROMIUM = process.env['SWITCHYARD_CHROMIUM'] ?? '/usr/bin/chromium';

/** Flags for a quiet headless run that reaches nothing but the gateway under test. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/**
 * Makes sure Chromium is installed: when it is missing, apt-get is there and we are root (a Debian
 * CI runner or container), runs `apt-get update` and `apt-get install -y chromium`
 * non-interactively. Returns undefined when the browser is ready, or why it is not (the suites then
 * skip with that message: a laptop without apt or root). With `CI` set a missing browser is an
 * error, never a skip.
 */
export function ensureChromium(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const apt = ['/usr/bin/apt-get', '/bin/apt-get'].find((path) => existsSync(path));
  const root = process.getuid?.() === 0;
  let reason = !apt
    ? 'apt-get is not available'
    : !root
      ? 'not root, so apt-get cannot install it'
      : undefined;
  if (apt && root) {
    try {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      execFileSync(apt, ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
      execFileSync(apt, ['install', '-y', '-qq', 'chromium'], {
        stdio: 'ignore',
        env,
        timeout: 600_000,
      });
    } catch (error) {
      reason = `apt-get install chromium failed: ${(error as Error).message}`;
    }
  }
  if (existsSync(CHROMIUM)) return undefined;
  const message = `Chromium not found at ${CHROMIUM} (${reason ?? 'not installed'}); install Debian's chromium or set SWITCHYARD_CHROMIUM to a Chromium binary`;
  if (process.env['CI']) throw new Error(`${message}: the dashboard tests must run in CI`);
  return message;
}
