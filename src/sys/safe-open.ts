// Opening the files the daemon itself writes (pid file, log files, state dump) so that nobody
// else on the machine can redirect those writes.
//
// The daemon usually runs as root and is told paths such as /tmp/xinetd.pid or /tmp/svc.log.
// In a directory that other users can write, one of them could plant a symbolic link there
// (to /etc/shadow, say), a hard link, a FIFO (to block us), or a file of their own (to read
// or forge what we write). The rules:
//   - a directory is *shared* when it is writable by "others" (mode o+w) or owned by a user
//     other than root and us (its owner can rename anything in it);
//   - a path is refused when it goes through a shared directory without the sticky bit
//     (anything below it can be swapped at any time), or through an entry of a sticky shared
//     directory (/tmp) that belongs to another user;
//   - in a shared directory the file is opened with O_NOFOLLOW and O_NONBLOCK, and must then
//     be a regular file with one link, owned by us. Elsewhere paths are opened normally
//     (root's own symlinks such as /dev/stdout keep working).
// Both the path as written and its real path are checked. Group-writable directories are
// trusted (Debian's /var/log is root:syslog 0775). The checks happen before open(), so a
// directory swapped between check and open is a known limit (see SECURITY.md); the kernel's
// fs.protected_symlinks closes most of that window where it is on.

import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, realpathSync, writeSync, type Stats } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';

export type SafeOpenResult = { ok: true; fd: number } | { ok: false; reason: string };
export type SafeWriteResult = { ok: true } | { ok: false; reason: string };

export interface SafeOpenOptions {
  /** true: O_APPEND (log files, dump); false: the file is truncated after the checks (pid file). */
  append: boolean;
  /** Creation mode (0644 for everything the daemon writes). */
  mode?: number;
  /** The effective uid to trust besides root (default: this process's). */
  euid?: number;
}

const ownUid = (): number => (typeof process.geteuid === 'function' ? process.geteuid() : 0);

/** Whether users other than root and `euid` can create or rename entries in this directory. */
export function isSharedDirectory(st: Pick<Stats, 'mode' | 'uid'>, euid: number): boolean {
  return (st.mode & 0o002) !== 0 || (st.uid !== 0 && st.uid !== euid);
}

const isSticky = (st: Pick<Stats, 'mode'>): boolean => (st.mode & 0o1000) !== 0;

/** Every directory on the way to `dir`, root first ("/", "/a", "/a/b"). */
function ancestry(dir: string): string[] {
  const parts = dir.split(sep).filter((p) => p !== '');
  const out = ['/'];
  for (let i = 0; i < parts.length; i++) out.push('/' + parts.slice(0, i + 1).join('/'));
  return out;
}

/**
 * Why the directory chain leading to `dir` (a directory path as written) lets someone else
 * change where the file ends up; null when it does not.
 */
export function unsafeDirectoryChain(dir: string, euid: number): string | null {
  const chain = ancestry(dir);
  for (const [i, entry] of chain.entries()) {
    const parent = chain[i - 1];
    if (parent === undefined) continue; // the top of the chain: nothing above it to check
    let parentSt: Stats;
    let entrySt: Stats;
    try {
      parentSt = lstatSync(parent);
      entrySt = lstatSync(entry);
    } catch {
      return null; // a missing directory: open() reports it
    }
    if (parentSt.isSymbolicLink()) continue; // only reached through its (checked) real path
    if (!isSharedDirectory(parentSt, euid)) continue;
    if (!isSticky(parentSt)) return `${parent} can be written by other users, so ${entry} can be replaced at any time`;
    if (entrySt.uid !== 0 && entrySt.uid !== euid) {
      return `${entry} ${entrySt.isSymbolicLink() ? 'is a symbolic link' : 'is a directory'} owned by uid ${entrySt.uid} in ${parent}, a directory other users can write`;
    }
  }
  return null;
}

function describeType(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function errnoCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Opens `path` for writing (created with `mode` when missing) under the rules above.
 * Never throws; the caller owns the returned descriptor.
 */
export function openForDaemonWrite(path: string, opts: SafeOpenOptions): SafeOpenResult {
  const euid = opts.euid ?? ownUid();
  const abs = resolve(path);
  const dir = dirname(abs);
  const written = unsafeDirectoryChain(dir, euid);
  if (written !== null) return { ok: false, reason: `refused: ${written}` };
  let realDir = dir;
  try {
    realDir = realpathSync(dir);
  } catch {
    // missing directory: open() below gives the error
  }
  if (realDir !== dir) {
    const real = unsafeDirectoryChain(realDir, euid);
    if (real !== null) return { ok: false, reason: `refused: ${real}` };
  }
  let shared = false;
  try {
    shared = isSharedDirectory(lstatSync(realDir), euid);
  } catch {
    // as above
  }
  const flags = constants.O_WRONLY | constants.O_CREAT | (opts.append ? constants.O_APPEND : 0) | (shared ? constants.O_NOFOLLOW | constants.O_NONBLOCK : 0);
  let fd: number;
  try {
    fd = openSync(abs, flags, opts.mode ?? 0o644);
  } catch (err) {
    const code = errnoCode(err);
    if (shared && code === 'ELOOP') return { ok: false, reason: `refused: it is a symbolic link in ${realDir}, a directory other users can write` };
    if (shared && code === 'ENXIO') return { ok: false, reason: `refused: it is a FIFO in ${realDir}, a directory other users can write` };
    return { ok: false, reason: errText(err) };
  }
  if (shared) {
    let why: string | null = null;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) why = `it is ${describeType(st)}`;
      else if (st.nlink !== 1) why = `it has ${st.nlink} hard links`;
      else if (st.uid !== euid) why = `it belongs to uid ${st.uid}, not to uid ${euid}`;
    } catch (err) {
      why = errText(err);
    }
    if (why !== null) {
      closeSync(fd);
      return { ok: false, reason: `refused: ${why}, in ${realDir}, a directory other users can write` };
    }
  }
  return { ok: true, fd };
}

/**
 * Writes `text` to `path` under the rules above: appended (`append`: the SIGUSR1 state dump) or
 * replacing what the file held (the pid file). Never throws.
 */
export function writeForDaemon(path: string, text: string, opts: SafeOpenOptions): SafeWriteResult {
  const r = openForDaemonWrite(path, opts);
  if (!r.ok) return r;
  try {
    if (!opts.append) ftruncateSync(r.fd, 0);
    const data = Buffer.from(text);
    let off = 0;
    while (off < data.length) off += writeSync(r.fd, data, off, data.length - off);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: errText(err) };
  } finally {
    closeSync(r.fd);
  }
}

/** Replaces the contents of `path` with `text` (the pid file). */
export const writeFileForDaemon = (path: string, text: string, mode = 0o644): SafeWriteResult => writeForDaemon(path, text, { append: false, mode });

/** Appends `text` to `path` (the SIGUSR1 state dump). */
export const appendFileForDaemon = (path: string, text: string, mode = 0o644): SafeWriteResult => writeForDaemon(path, text, { append: true, mode });
