// package-lock.json is what `npm ci` in .ci/run installs from: it must list exactly the
// dependencies package.json declares (npm ci refuses a lock out of step, but only in CI, late),
// and pin every package it installs to a version and an integrity hash. "resolved" URLs may be
// left out (npm's omit-lockfile-registry-resolved): npm then fetches from the configured registry
// and still checks the hash.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/imports.js';

const ROOT = repoRoot();
type Manifest = {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  name: string;
  version: string;
  lockfileVersion: number;
  packages: Record<string, Manifest & { integrity?: string; link?: boolean; dev?: boolean; optional?: boolean }>;
};

test('the lock file is for this package and declares what package.json declares', () => {
  assert.equal(lock.lockfileVersion, 3);
  assert.deepEqual([lock.name, lock.version], [pkg.name, pkg.version]);
  const root = lock.packages[''];
  assert.ok(root !== undefined);
  for (const k of ['dependencies', 'devDependencies', 'optionalDependencies'] as const) {
    assert.deepEqual(root[k] ?? {}, pkg[k] ?? {}, `${k} of package.json and of the lock's root`);
  }
});

test('every declared dependency is locked, and every locked package has a version and an integrity hash', () => {
  const root = lock.packages['']!;
  for (const name of Object.keys({ ...root.dependencies, ...root.devDependencies })) {
    assert.ok(lock.packages[`node_modules/${name}`] !== undefined, `${name} is in the lock`);
  }
  const entries = Object.entries(lock.packages).filter(([k]) => k !== '');
  assert.ok(entries.length >= Object.keys({ ...root.dependencies, ...root.devDependencies }).length);
  for (const [k, v] of entries) {
    if (v.link === true) continue;
    assert.match(v.version, /^\d+\.\d+\.\d+/, `${k} has a version`);
    assert.match(v.integrity ?? '', /^sha512-[A-Za-z0-9+/]+=*$/, `${k} has an integrity hash`);
  }
});
