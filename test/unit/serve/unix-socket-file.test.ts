// The file of a unix-domain listening socket: a stale socket is removed before the bind, nothing
// else is; the bound file gets its mode (and owner); it is removed at close only while it is
// still the one bound. Real files and sockets in a temporary directory.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { bindSocketFile, clearSocketPath, removeSocketFile } from '../../../src/serve/unix-socket-file.js';
import { tempDir } from '../../helpers/temp.js';

const python = spawnSync('python3', ['-c', 'import socket; socket.AF_UNIX']).status === 0 ? false : 'python3 is not available';

/** A socket file nobody listens on (bound by a process that has exited). */
function staleSocket(path: string): void {
  assert.equal(spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]).status, 0);
}

/** A listening net.Server bound at `path` by bindSocketFile (Node's listen on a path binds at once). */
function listenAt(path: string, mode: number): { server: net.Server; file: ReturnType<typeof bindSocketFile>['file'] } {
  const { bound, file } = bindSocketFile(
    { path, owner: null, group: null, mode },
    () => net.createServer().listen({ path }),
    (s) => s.close(),
  );
  return { server: bound, file };
}

test('a stale socket file is removed; a regular file, a directory or a symlink is not', { skip: python }, (t) => {
  const dir = tempDir(t, 'sockfile');
  const stale = join(dir, 'stale');
  staleSocket(stale);
  clearSocketPath(stale);
  assert.equal(existsSync(stale), false);
  clearSocketPath(join(dir, 'absent'));

  const file = join(dir, 'file');
  writeFileSync(file, 'precious\n');
  assert.throws(() => clearSocketPath(file), /file exists and is not a socket: not removed/);
  assert.equal(readFileSync(file, 'utf8'), 'precious\n');
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  assert.throws(() => clearSocketPath(sub), /is not a socket/);
  const link = join(dir, 'link');
  symlinkSync(file, link);
  assert.throws(() => clearSocketPath(link), /is not a socket/);
  assert.equal(lstatSync(link).isSymbolicLink(), true);
});

test('the bound file gets its mode whatever the umask; removed at close only while it is still the same socket', { skip: python }, async (t) => {
  const dir = tempDir(t, 'sockfile');
  const path = join(dir, 's');
  const old = process.umask(0o022);
  let first;
  let after: number;
  try {
    first = listenAt(path, 0o640);
  } finally {
    after = process.umask(old);
  }
  assert.equal(after, 0o022, 'the umask is restored after the bind');
  assert.equal(lstatSync(path).mode & 0o7777, 0o640);
  // Another bind at the path since (a reload's new listener): the old file record no longer matches.
  first.server.close();
  await new Promise((r) => setTimeout(r, 20));
  if (existsSync(path)) clearSocketPath(path);
  const second = listenAt(path, 0o600);
  t.after(() => second.server.close());
  removeSocketFile(first.file);
  assert.equal(existsSync(path), true, 'the newer socket is left alone');
  assert.equal(lstatSync(path).mode & 0o7777, 0o600);
  removeSocketFile(second.file);
  assert.equal(existsSync(path), false);
});
