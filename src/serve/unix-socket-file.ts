// The file of a unix-domain listening socket (inetd.conf protocol `unix`): made ready before the
// bind, given its owner, group and mode after it, removed when the socket closes. I/O. The one
// definition of these rules, for the stream sockets the daemon binds and for the datagram
// sockets the spawn helper binds for it (which binds under umask 0777 and does nothing else).
//
// As the inetds do (FreeBSD inetd.c setup(), measured on Debian's openbsd-inetd): a socket file
// left at the path is removed before the bind; the bind runs under umask 0777, so the file
// exists with no permissions until it is given its owner, group and mode. Where tsinetd is
// stricter: a path that holds anything but a socket (a regular file, a directory, a symlink)
// is never removed, and the socket is not opened (both inetds unlink whatever is there). On
// close, the file is removed only while it is still the one this listener bound (same inode):
// a socket another listener or process has bound at the path since is left alone.

import { chmodSync, lchownSync, lstatSync, unlinkSync } from 'node:fs';
import { systemDb, type SysDb } from '../sys/sysdb.js';
import type { UnixSocket } from '../table.js';

/**
 * A bound socket file: its path, inode and change time (set by the chmod after the bind), to
 * remove it later only if it is still this one (an inode number alone may be reused at once).
 */
export interface SocketFile {
  path: string;
  ino: number;
  ctimeMs: number;
}

/** An error of tsinetd's own (no errno code: the daemon's "bind failed (...)" line then gives the message). */
function fail(message: string): Error {
  return new Error(message);
}

/** Removes a stale socket file at `path`; throws when something else is there. */
export function clearSocketPath(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw fail(`${path} exists and is not a socket: not removed (move it away, or choose another path)`);
  unlinkSync(path);
}

/**
 * Binds with `bind` (which creates the file at `socket.path`) under umask 0777, then gives the
 * file its owner, group and mode. Returns what bind returned and the file; on a failure after
 * the bind, the file is removed and `close` undoes the bind.
 */
export function bindSocketFile<T>(socket: UnixSocket, bind: () => T, close: (bound: T) => void, db: SysDb = systemDb): { bound: T; file: SocketFile } {
  clearSocketPath(socket.path);
  const old = process.umask(0o777);
  let bound: T;
  try {
    bound = bind();
  } finally {
    process.umask(old);
  }
  return { bound, file: finishSocketFile(socket, () => close(bound), db) };
}

/**
 * The same rules for a socket bound by another process, the spawn helper (a unix-domain datagram
 * socket, which Node cannot open): the path is cleared here, `bind` must bind under umask 0777
 * (the helper does), and the file is then given its owner, group and mode here.
 */
export async function bindSocketFileAsync<T>(
  socket: UnixSocket,
  bind: () => Promise<T>,
  close: (bound: T) => void,
  db: SysDb = systemDb,
): Promise<{ bound: T; file: SocketFile }> {
  clearSocketPath(socket.path);
  const bound = await bind();
  return { bound, file: finishSocketFile(socket, () => close(bound), db) };
}

/**
 * After the bind: the file's owner, group and mode, and what identifies it for removeSocketFile.
 * On a failure the file is removed, `undo` closes the socket, and the error is thrown.
 */
function finishSocketFile(socket: UnixSocket, undo: () => void, db: SysDb): SocketFile {
  try {
    const st = lstatSync(socket.path);
    if (!st.isSocket()) throw fail(`${socket.path} was replaced while it was bound`);
    const uid = socket.owner === null ? -1 : (db.user(socket.owner)?.uid ?? null);
    const gid = socket.group === null ? -1 : (db.group(socket.group)?.gid ?? null);
    if (uid === null) throw fail(`no such user ${socket.owner ?? ''} for the owner of ${socket.path}`);
    if (gid === null) throw fail(`no such group ${socket.group ?? ''} for the group of ${socket.path}`);
    if (uid !== -1 || gid !== -1) lchownSync(socket.path, uid, gid);
    chmodSync(socket.path, socket.mode);
    const done = lstatSync(socket.path);
    return { path: socket.path, ino: done.ino, ctimeMs: done.ctimeMs };
  } catch (err) {
    // The file this bind made, if it is still there (a socket of no other listener: none bound it yet).
    try {
      if (lstatSync(socket.path).isSocket()) unlinkSync(socket.path);
    } catch {
      // gone already
    }
    undo();
    throw err;
  }
}

/** Removes the socket file if it is still `file` (a socket with the same inode and change time); errors are ignored. */
export function removeSocketFile(file: SocketFile): void {
  try {
    const st = lstatSync(file.path);
    if (st.isSocket() && st.ino === file.ino && st.ctimeMs === file.ctimeMs) unlinkSync(file.path);
  } catch {
    // already gone, or not ours to remove
  }
}
