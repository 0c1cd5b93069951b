// The file of a unix-domain listening socket (inetd.conf protocol `unix`): made ready before the
// bind, given its owner, group and mode after it, removed when the socket closes. I/O.
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

/** A bound socket file: its path and inode, to remove it later only if it is still this one. */
export interface SocketFile {
  path: string;
  ino: number;
}

function fail(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}

/** Removes a stale socket file at `path`; throws (code EEXIST) when something else is there. */
export function clearSocketPath(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw fail('EEXIST', `${path} exists and is not a socket: not removed (move it away, or choose another path)`);
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
  try {
    const st = lstatSync(socket.path);
    if (!st.isSocket()) throw fail('EEXIST', `${socket.path} was replaced while it was bound`);
    const uid = socket.owner === null ? -1 : (db.user(socket.owner)?.uid ?? null);
    const gid = socket.group === null ? -1 : (db.group(socket.group)?.gid ?? null);
    if (uid === null) throw fail('EINVAL', `no such user ${socket.owner ?? ''} for the owner of ${socket.path}`);
    if (gid === null) throw fail('EINVAL', `no such group ${socket.group ?? ''} for the group of ${socket.path}`);
    if (uid !== -1 || gid !== -1) lchownSync(socket.path, uid, gid);
    chmodSync(socket.path, socket.mode);
    return { bound, file: { path: socket.path, ino: st.ino } };
  } catch (err) {
    removeSocketFile({ path: socket.path, ino: lstatIno(socket.path) });
    close(bound);
    throw err;
  }
}

function lstatIno(path: string): number {
  try {
    return lstatSync(path).ino;
  } catch {
    return -1;
  }
}

/** Removes the socket file if it is still `file` (a socket with the same inode); errors are ignored. */
export function removeSocketFile(file: SocketFile): void {
  try {
    const st = lstatSync(file.path);
    if (st.isSocket() && st.ino === file.ino) unlinkSync(file.path);
  } catch {
    // already gone, or not ours to remove
  }
}
