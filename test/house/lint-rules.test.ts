import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIOME = join(ROOT, 'node_modules/.bin/biome');
const run = promisify(execFile);
// Inside src/ so the project's biome.jsonc applies; removed after the test.
const dir = mkdtempSync(join(ROOT, 'src', '.lint-probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The rule names Biome reports for `code`, linted as a file of src/. */
async function rulesFiredOn(code: string): Promise<string[]> {
  const file = join(dir, 'probe.ts');
  writeFileSync(file, code);
  const result = await run(BIOME, ['lint', '--max-diagnostics=50', file], { cwd: ROOT }).catch(
    (error: { stdout?: string; stderr?: string }) => error,
  );
  const text = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  return [...text.matchAll(/lint\/[a-zA-Z]+\/([a-zA-Z]+)/g)].map((match) => match[1]!);
}

// The rules the house relies on for async server code are nursery rules in Biome 2: this pins
// that they are on and still fire, so an upgrade or a config edit cannot turn them off silently.
describe('the linter catches the bugs of async server code', () => {
  it('floating and misused promises, unused code, and unexplained any', async () => {
    const fired = await rulesFiredOn(`import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
async function save(): Promise<void> {}
export function handle(register: (callback: () => void) => void, value: any): void {
  save();
  const pending = save();
  if (pending) register(() => undefined);
  register(async () => {
    await save();
  });
  const unused = value;
}
`);
    expect(fired).toEqual(
      expect.arrayContaining([
        'noFloatingPromises',
        'noMisusedPromises',
        'noUnusedImports',
        'noUnusedVariables',
        'noExplicitAny',
      ]),
    );
    expect(fired.filter((rule) => rule === 'noMisusedPromises').length).toBe(2);
  });
});
