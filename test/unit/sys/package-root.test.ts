// package-root.ts: the package is found by looking up for its package.json, whatever the
// module's depth (the bundle in build/bin/, modules in build/src/ at any folder depth).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPackage, thisPackage } from '../../../src/sys/package-root.js';
import { tempDir } from '../../helpers/temp.js';

test('found from any depth; a package.json of another name on the way is passed over', (t) => {
  const root = tempDir(t, 'pkgroot');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'tsinetd', version: '9.8.7' }));
  const deep = join(root, 'build', 'src', 'spawn', 'native');
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(root, 'build', 'package.json'), JSON.stringify({ name: 'other' }));
  writeFileSync(join(root, 'build', 'src', 'package.json'), '{ not json');
  assert.deepEqual(findPackage(deep), { root, version: '9.8.7' });
  assert.deepEqual(findPackage(join(root, 'build', 'bin')), { root, version: '9.8.7' });
  assert.equal(findPackage(deep, 'no-such-package'), null);
});

test('this checkout is found, with its version', () => {
  const pkg = thisPackage();
  assert.ok(pkg !== null);
  assert.match(pkg.version, /^\d+\.\d+\.\d+/);
});
