// The shape of the source tree (#14): folders along the data flow, each module holding one
// concept small enough to read whole, and tests that mirror the modules they test. These
// checks walk src/ and test/ at any depth, so a module moved into a new folder is still seen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { repoRoot, tsFilesUnder } from '../helpers/imports.js';

const ROOT = repoRoot();
const SRC = join(ROOT, 'src');
const MAX_LINES = 500;

/** The folders of src/, each a step of the data flow (README, Architecture). */
const FOLDERS = new Set([
  '.',
  'app',
  'config',
  'config/xinetd',
  'config/inetd',
  'admission',
  'admission/wrappers',
  'serve',
  'spawn',
  'spawn/native',
  'log',
  'ops',
  'convert',
  'sys',
  'util',
]);

/** What stays at the top of src/: the contracts every layer shares, and their decisions. */
const TOP = new Set(['table', 'peer', 'diagnostics', 'diagnostic-codes', 'message-codes', 'service-defaults', 'service-kind', 'service-needs']);

const modules = tsFilesUnder(SRC);
const nameOf = (f: string): string => basename(f, '.ts');
const folderOf = (f: string): string => dirname(f);

test('src/ holds enough modules for these checks to mean something', () => {
  assert.ok(modules.length > 100, `found only ${modules.length} modules under ${SRC}`);
});

test(`no module of src/ is over ${MAX_LINES} lines`, () => {
  const long = modules
    .map((f) => ({ f, lines: readFileSync(join(SRC, f), 'utf8').split('\n').length - 1 }))
    .filter((x) => x.lines > MAX_LINES)
    .map((x) => `${x.f}: ${x.lines} lines`);
  assert.deepEqual(long, [], 'split these modules by concept');
});

test('every module sits in one of the data-flow folders, the shared contracts alone at the top', () => {
  const misplaced = modules.filter((f) => !FOLDERS.has(folderOf(f)) || (folderOf(f) === '.') !== TOP.has(nameOf(f)));
  assert.deepEqual(misplaced, []);
  assert.deepEqual(
    modules.filter((f) => nameOf(f) === 'index'),
    [],
    'no barrel index.ts files',
  );
});

test('module names are unique across folders (the layering test names modules by name)', () => {
  const seen = new Map<string, string>();
  const clashes: string[] = [];
  for (const f of modules) {
    const other = seen.get(nameOf(f));
    if (other !== undefined) clashes.push(`${other} and ${f}`);
    seen.set(nameOf(f), f);
  }
  assert.deepEqual(clashes, []);
});

test("a unit test named after a module sits in that module's folder", () => {
  const home = new Map(modules.map((f) => [nameOf(f), folderOf(f)]));
  const unit = tsFilesUnder(join(ROOT, 'test', 'unit')).filter((f) => f.endsWith('.test.ts'));
  assert.ok(unit.length > 40, `found only ${unit.length} unit tests`);
  const astray = unit.filter((f) => {
    const folder = home.get(basename(f, '.test.ts'));
    return folder !== undefined && folder !== folderOf(f);
  });
  assert.deepEqual(astray, [], 'move each to test/unit/<folder of its module>/');
  const outside = unit.filter((f) => !FOLDERS.has(folderOf(f)));
  assert.deepEqual(outside, [], 'unit tests mirror the src/ folders');
});
