// config-permissions.ts with a fake file system: which configuration files and directories
// other users could change, and where the warning is put.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { permissionWarnings, type PathMode } from '../../../src/config/config-permissions.js';

const DIR = 0o040000;
const FILE = 0o100000;

function fs(entries: Record<string, PathMode>) {
  return (p: string): PathMode | null => entries[p] ?? null;
}

const ctx = (entries: Record<string, PathMode>, euid = 0) => ({ euid, stat: fs(entries), userName: (uid: number) => (uid === 1000 ? 'alice' : undefined) });

test('a safe tree: nothing to say (root or our own files, 0644 and 0664, sticky /tmp)', () => {
  const c = ctx(
    {
      '/etc': { mode: DIR | 0o755, uid: 0 },
      '/etc/xinetd.conf': { mode: FILE | 0o664, uid: 0 },
      '/tmp': { mode: DIR | 0o1777, uid: 0 },
      '/tmp/x.conf': { mode: FILE | 0o644, uid: 1000 },
    },
    1000,
  );
  assert.deepEqual(permissionWarnings(['/etc/xinetd.conf', '/tmp/x.conf'], [], c), []);
});

test('world-writable file, foreign owner, open directory: located at the start of the file, each file once', () => {
  const c = ctx({
    '/etc': { mode: DIR | 0o755, uid: 0 },
    '/etc/a': { mode: FILE | 0o666, uid: 0 },
    '/etc/b': { mode: FILE | 0o644, uid: 1000 },
    '/open': { mode: DIR | 0o777, uid: 0 },
    '/open/c': { mode: FILE | 0o644, uid: 0 },
  });
  const w = permissionWarnings(['/etc/a', '/etc/b', '/open/c', '/etc/a'], [], c);
  assert.deepEqual(
    w.map((d) => `${d.file}:${d.line}:${d.column}:${d.severity}`),
    ['/etc/a:1:1:warning', '/etc/b:1:1:warning', '/open/c:1:1:warning'],
  );
  assert.match(w[0]!.message, /^\/etc\/a can be written by any user \(mode 0666\)/);
  assert.match(w[1]!.message, /^\/etc\/b belongs to uid 1000 \(alice\), who can choose the programs tsinetd \(uid 0\) starts/);
  assert.match(w[2]!.message, /^the directory \/open can be written by any user \(mode 0777, no sticky bit\): anyone could replace \/open\/c$/);
});

test('an includedir any user can write, sticky or not, is reported at the directive', () => {
  const c = ctx({ '/etc': { mode: DIR | 0o755, uid: 0 }, '/etc/x.conf': { mode: FILE | 0o644, uid: 0 }, '/srv/d': { mode: DIR | 0o1777, uid: 0 } });
  const w = permissionWarnings(['/etc/x.conf'], [{ dir: '/srv/d', at: { file: '/etc/x.conf', line: 3, column: 12 }, length: 6 }], c);
  assert.deepEqual(
    w.map((d) => `${d.file}:${d.line}:${d.column}:${d.length}`),
    ['/etc/x.conf:3:12:6'],
  );
  assert.match(w[0]!.message, /the directory \/srv\/d can be written by any user \(mode 1777\): anyone could add a service/);
});

test('files that cannot be examined are left to the loader', () => {
  assert.deepEqual(permissionWarnings(['/nowhere'], [{ dir: '/nodir', at: { file: '/nowhere', line: 1, column: 1 }, length: 1 }], ctx({})), []);
});
