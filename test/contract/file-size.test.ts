// Files that hold one concept stay small enough to read whole (#14): no TypeScript module of
// src/, at any depth, is over 500 lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));
const MAX_LINES = 500;

function modules(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? modules(p) : n.endsWith('.ts') ? [p] : [];
  });
}

test(`no module of src/ is over ${MAX_LINES} lines`, () => {
  const all = modules(SRC);
  assert.ok(all.length > 60, `found only ${all.length} modules under ${SRC}`);
  const long = all
    .map((f) => ({ f: f.slice(SRC.length), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
    .filter((x) => x.lines > MAX_LINES)
    .map((x) => `${x.f}: ${x.lines} lines`);
  assert.deepEqual(long, []);
});
