// safe-open.ts on the real file system: what may and may not be planted at a path the daemon
// writes, in a directory other users can write (a private stand-in for /tmp: mode 1777) and in
// a private one. Ownership cases need root (chown); they skip otherwise.

import assert from 'node:assert/strict';
import { chmodSync, closeSync, lchownSync, linkSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { appendFileForDaemon, isSharedDirectory, openForDaemonWrite, unsafeDirectoryChain, writeFileForDaemon } from '../../../src/sys/safe-open.js';
import { sharedDirLayout, type SharedDirLayout } from '../../helpers/temp.js';

const ROOT = process.geteuid?.() === 0;
const euid = process.geteuid?.() ?? 0;

const layout = (t: TestContext): SharedDirLayout => sharedDirLayout(t, 'safe');

const refused = (r: { ok: boolean; reason?: string }, re: RegExp): void => {
  assert.equal(r.ok, false);
  assert.match(r.reason ?? '', re);
};

test('shared directories: o+w, or owned by someone other than root and us', () => {
  assert.equal(isSharedDirectory({ mode: 0o41777, uid: 0 }, 1000), true);
  assert.equal(isSharedDirectory({ mode: 0o40755, uid: 0 }, 1000), false);
  assert.equal(isSharedDirectory({ mode: 0o40755, uid: 1000 }, 1000), false);
  assert.equal(isSharedDirectory({ mode: 0o40755, uid: 1001 }, 1000), true);
  assert.equal(isSharedDirectory({ mode: 0o40775, uid: 0 }, 1000), false); // group-writable: trusted
});

test('a symlink planted in a shared directory is not followed, for replacing or appending', (t) => {
  const l = layout(t);
  symlinkSync(l.victim, join(l.shared, 'x.pid'));
  refused(writeFileForDaemon(join(l.shared, 'x.pid'), '1\n'), /refused: it is a symbolic link in .*shared, a directory other users can write/);
  refused(appendFileForDaemon(join(l.shared, 'x.pid'), 'line\n'), /symbolic link/);
  assert.equal(readFileSync(l.victim, 'utf8'), 'precious\n');
});

test('a dangling symlink in a shared directory does not create its target', (t) => {
  const l = layout(t);
  const target = join(l.dir, 'created-through-link');
  symlinkSync(target, join(l.shared, 'x.log'));
  refused(appendFileForDaemon(join(l.shared, 'x.log'), 'line\n'), /symbolic link/);
  assert.throws(() => statSync(target));
});

test('a hard link or a FIFO planted in a shared directory is refused (and a FIFO does not block)', (t) => {
  const l = layout(t);
  linkSync(l.victim, join(l.shared, 'hard.log'));
  refused(appendFileForDaemon(join(l.shared, 'hard.log'), 'line\n'), /it has 2 hard links/);
  assert.equal(readFileSync(l.victim, 'utf8'), 'precious\n');
  if (spawnSync('mkfifo', [join(l.shared, 'fifo.pid')]).status === 0) {
    refused(writeFileForDaemon(join(l.shared, 'fifo.pid'), '1\n'), /FIFO/);
  }
});

test('a file of another user in a shared directory is refused, so its owner cannot read or forge our lines', { skip: ROOT ? false : 'needs root' }, (t) => {
  const l = layout(t);
  const planted = join(l.shared, 'svc.log');
  writeFileSync(planted, 'attacker\n', { mode: 0o666 });
  chmodSync(planted, 0o666);
  lchownSync(planted, 65534, 65534);
  refused(appendFileForDaemon(planted, 'secret line\n'), /belongs to uid 65534/);
  assert.equal(readFileSync(planted, 'utf8'), 'attacker\n');
});

test('a directory on the way that another user controls is refused', { skip: ROOT ? false : 'needs root' }, (t) => {
  const l = layout(t);
  const elsewhere = join(l.dir, 'elsewhere');
  mkdirSync(elsewhere);
  const link = join(l.shared, 'sub');
  symlinkSync(elsewhere, link);
  lchownSync(link, 65534, 65534);
  refused(writeFileForDaemon(join(link, 'x.pid'), '1\n'), /sub is a symbolic link owned by uid 65534/);
  assert.throws(() => statSync(join(elsewhere, 'x.pid')));
  // A world-writable directory without the sticky bit: anything below it can be swapped.
  const open = join(l.dir, 'open');
  mkdirSync(join(open, 'deeper'), { recursive: true });
  chmodSync(open, 0o777);
  assert.match(unsafeDirectoryChain(join(open, 'deeper'), euid) ?? '', /open can be written by other users/);
  refused(writeFileForDaemon(join(open, 'deeper', 'x.pid'), '1\n'), /can be written by other users/);
});

test('our own files in a shared directory are created 0644, replaced whole, appended to', (t) => {
  const l = layout(t);
  const pid = join(l.shared, 'own.pid');
  assert.deepEqual(writeFileForDaemon(pid, '999999999\n'), { ok: true });
  assert.equal(statSync(pid).mode & 0o777, 0o644);
  assert.deepEqual(writeFileForDaemon(pid, '42\n'), { ok: true });
  assert.equal(readFileSync(pid, 'utf8'), '42\n');
  assert.deepEqual(appendFileForDaemon(pid, '43\n'), { ok: true });
  assert.equal(readFileSync(pid, 'utf8'), '42\n43\n');
});

test('outside shared directories symlinks are followed as before (e.g. /dev/stdout-style links)', (t) => {
  const l = layout(t);
  const link = join(l.dir, 'link.log');
  symlinkSync(l.victim, link);
  const r = openForDaemonWrite(link, { append: true });
  assert.equal(r.ok, true);
  closeSync(r.fd);
  assert.deepEqual(appendFileForDaemon(link, 'more\n'), { ok: true });
  assert.equal(readFileSync(l.victim, 'utf8'), 'precious\nmore\n');
  assert.deepEqual(appendFileForDaemon('/dev/null', 'x'), { ok: true });
});

test('ordinary failures are reported, not thrown', () => {
  const r = writeFileForDaemon('/nonexistent-dir-tsinetd/x.pid', '1\n');
  assert.equal(r.ok, false);
  assert.match(r.reason, /ENOENT/);
});
