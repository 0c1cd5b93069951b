// The unix-domain socket of an inetd.conf entry (protocol `unix`), read as the inetds read it
// (pure): the service field is the socket's path; FreeBSD's `:user:group:mode:service` prefix
// gives the file's owner, group and mode (FreeBSD inetd.c getconfigent: user and group looked
// up by name, the mode octal up to the colon; anything wrong skips the entry). Without a prefix,
// each inetd's own default: FreeBSD 0200 (its se_sockmode), OpenBSD (and Debian's
// openbsd-inetd, measured) 0666, owned by the daemon's user and group.

import { basename, isAbsolute } from 'node:path';
import type { ResolvedInetdDialect } from './inetd-dialect.js';
import type { SysDb } from '../../sys/sysdb.js';
import type { WordPiece } from './inetd-syntax.js';
import type { Service, UnixSocket } from '../../table.js';

/** Linux's sun_path holds 108 bytes, the terminating NUL included. */
export const UNIX_PATH_MAX = 107;

/** The mode each inetd gives a unix socket file it binds (FreeBSD: without a prefix). */
const UNIX_DEFAULT_MODE: Readonly<Record<ResolvedInetdDialect, number>> = { freebsd: 0o200, openbsd: 0o666, gnu: 0o666 };

/** The owner, group and mode a FreeBSD prefix gives. */
export interface SocketPerms {
  owner: string;
  group: string;
  mode: number;
}

/** What went wrong, where in the word (offset, length). */
export interface Problem {
  ok: false;
  offset: number;
  length: number;
  message: string;
}

/** Reads `:user:group:mode:service` (the whole first word); `nameOffset` is where the service starts. */
export function readSocketPrefix(text: string, db: SysDb): { ok: true; perms: SocketPerms; nameOffset: number } | Problem {
  const parts = text.slice(1).split(':');
  const [owner, group, modeText] = parts;
  if (owner === undefined || group === undefined || modeText === undefined || parts.length < 4) {
    const missing = ['group', 'mode', 'service'][parts.length - 1] ?? 'service';
    return { ok: false, offset: 0, length: text.length, message: `incomplete \`:user:group:mode:\` prefix: no ${missing} (FreeBSD inetd skips the entry)` };
  }
  const at = (index: number): number => 1 + parts.slice(0, index).reduce((n, p) => n + p.length + 1, 0);
  // FreeBSD looks both up by name only (getpwnam, getgrnam).
  const unknown = (what: 'user' | 'group', name: string, index: number): Problem => ({
    ok: false,
    offset: at(index),
    length: Math.max(1, name.length),
    message: `no such ${what} \`${name}\` for the socket's ${what === 'user' ? 'owner' : 'group'} (FreeBSD inetd skips the entry)`,
  });
  if (db.user(owner) === undefined || /^[0-9]+$/.test(owner)) return unknown('user', owner, 0);
  if (db.group(group) === undefined || /^[0-9]+$/.test(group)) return unknown('group', group, 1);
  if (!/^[0-7]{1,4}$/.test(modeText)) {
    return { ok: false, offset: at(2), length: Math.max(1, modeText.length), message: `bad mode \`${modeText}\` (an octal number such as 0660)` };
  }
  return { ok: true, perms: { owner, group, mode: Number.parseInt(modeText, 8) }, nameOffset: at(3) };
}

/**
 * The socket of a `unix` entry whose service field is `path`: it must be absolute (a relative
 * one would depend on the daemon's working directory) and fit in a sockaddr_un.
 */
export function unixSocketOf(path: string, perms: SocketPerms | null, dialect: ResolvedInetdDialect): { ok: true; socket: UnixSocket } | Problem {
  const length = Math.max(1, path.length);
  if (!isAbsolute(path)) {
    return {
      ok: false,
      offset: 0,
      length,
      message: `the path of a unix-domain socket must be absolute (\`${path}\` would depend on the daemon's working directory)`,
    };
  }
  const bytes = Buffer.byteLength(path);
  if (bytes > UNIX_PATH_MAX) return { ok: false, offset: 0, length, message: `unix-domain socket path too long (${bytes} bytes; at most ${UNIX_PATH_MAX})` };
  return { ok: true, socket: perms !== null ? { path, ...perms } : { path, owner: null, group: null, mode: UNIX_DEFAULT_MODE[dialect] } };
}

/** The warning for a prefix on a tcp or udp entry. */
export const PREFIX_IGNORED = 'the `:user:group:mode:` prefix only applies to unix-domain sockets: ignored, as FreeBSD inetd does';

/** Where the internal service is named: FreeBSD finds that of a unix socket by the path's last component. */
export function builtinPieceOf(namePiece: WordPiece, unix: boolean, dialect: ResolvedInetdDialect): WordPiece {
  if (!unix || dialect !== 'freebsd') return namePiece;
  return { text: basename(namePiece.text), offset: namePiece.offset + namePiece.text.lastIndexOf('/') + 1 };
}

/** Removes from `kept` and returns the entry whose socket is at `path` (one socket per path). */
export function takeSamePath<T extends { unix: UnixSocket | null }>(kept: T[], path: string): T | undefined {
  const i = kept.findIndex((e) => e.unix?.path === path);
  return i < 0 ? undefined : kept.splice(i, 1)[0];
}

/** Makes `s` the service of a unix socket: no port, no address family. */
export function asUnixService(s: Service, unix: UnixSocket): void {
  s.protocol = 'unix';
  s.port = null;
  s.unix = unix;
  s.flags = s.flags.filter((f) => f !== 'IPv4' && f !== 'IPv6');
  s.v6only = null;
  s.family_sockets = false;
}
