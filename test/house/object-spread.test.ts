import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT, sourceFiles } from '../helpers/source-files.js';

/**
 * On Node 20 (V8 11), an object literal that starts with a spread and goes on (`{ ...a, b: 1 }`,
 * `{ ...a, ...b }`) defines each member after the spread through V8's runtime: 0.6 µs for one,
 * 3.7 µs for the four of an SSE answer's headers, where the same object made by `merged(a, { b: 1 })`
 * (src/core/objects.ts) takes 0.08 µs (bench/object-spread.ts). Seven of them ran per proxied
 * chat request. No such literal is left in src/; a spread alone (`{ ...a }`, a copy) or a spread
 * after a first member (`{ kind, ...rest }`) is built the fast way and stays.
 */

/** `name:line` of each literal in `text` that starts with a spread and has more members. */
function spreadFirst(name: string, text: string): string[] {
  const file = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isObjectLiteralExpression(node) &&
      node.properties.length > 1 &&
      ts.isSpreadAssignment(node.properties[0]!)
    ) {
      const { line } = file.getLineAndCharacterOfPosition(node.getStart());
      found.push(`${name}:${line + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('object literals that start with a spread (test/house)', () => {
  it('none in src/: merged() makes the same object without the slow path', () => {
    const found = sourceFiles(join(ROOT, 'src')).flatMap((path) =>
      spreadFirst(relative(ROOT, path), readFileSync(path, 'utf8')),
    );
    expect(found).toEqual([]);
  });

  it('finds the shape it forbids', () => {
    const probe = [
      'const copy = { ...a };',
      'const more = { ...a, b: 1 };',
      'const both = { ...a, ...(b && { c }) };',
      'const after = { kind, ...rest };',
      'const nested = { kind, inner: { ...a, d } };',
    ].join('\n');
    expect(spreadFirst('probe.ts', probe)).toEqual(['probe.ts:2', 'probe.ts:3', 'probe.ts:5']);
  });
});
