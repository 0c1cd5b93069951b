// Whether a service's user can execute its server program, judged at load (and --check) as the
// kernel would judge execve() for that uid and its groups: search permission on every directory
// of the path (and of the path its symbolic links lead to), then the execute bit of the file for
// that user's class. Nothing is spawned; permission bits only (file-access.ts).
//
// xinetd has no such check: a `user = nobody` service whose server lies under a 0700 directory
// (/root, a private checkout) loads cleanly and then fails at every connection. This is a
// warning, not a refusal: the file or its permissions may change before the first client.
// A server missing altogether is named too (the service's user cannot run what is not there).

import { realpathSync, statSync } from 'node:fs';
import { childCredentials } from '../spawn/child-env.js';
import { directoriesOf, permits, type FileAccess, type Reader } from '../sys/file-access.js';
import type { DaemonIdentity, PrivilegeMode } from '../sys/privileges.js';
import type { SysDb } from '../sys/sysdb.js';
import type { Service } from '../table.js';
import { startsProgram } from '../service-kind.js';

/** What stat() says of a path. */
export interface PathFacts extends FileAccess {
  kind: 'file' | 'directory' | 'other';
}

/** The file system as the check sees it (injected; tests give a table). */
export interface PathLookup {
  /** stat() (following links): null when the path does not exist, undefined when it cannot be told. */
  stat(path: string): PathFacts | null | undefined;
  /** The path with every symbolic link resolved; null when that cannot be done. */
  realpath(path: string): string | null;
}

function describe(f: FileAccess, name: (uid: number) => string | undefined): string {
  const owner = name(f.uid) ?? `uid ${f.uid}`;
  return `mode ${(f.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${owner}, group ${f.gid}`;
}

/**
 * Why a process with `reader`'s ids cannot execute `path`, or null when it can (or when the file
 * system does not let us tell, or when `path` is not a regular file: validate.ts says so).
 */
export function execDenial(path: string, reader: Reader, lookup: PathLookup, name: (uid: number) => string | undefined = () => undefined): string | null {
  const resolved = lookup.realpath(path);
  const dirs = directoriesOf(path);
  if (resolved !== null && resolved !== path) for (const d of directoriesOf(resolved)) if (!dirs.includes(d)) dirs.push(d);
  for (const dir of dirs) {
    const facts = lookup.stat(dir);
    if (facts === undefined) return null;
    if (facts === null) return `${dir} does not exist`;
    if (facts.kind !== 'directory') return `${dir} is not a directory`;
    if (!permits(facts, reader, 1)) return `no search permission on directory ${dir} (${describe(facts, name)})`;
  }
  const file = lookup.stat(path);
  if (file === undefined) return null;
  if (file === null) return `${path} does not exist`;
  if (file.kind !== 'file') return null;
  if (!permits(file, reader, 1, true)) return `no execute permission on ${path} for it (${describe(file, name)})`;
  return null;
}

export interface ServerAccessContext {
  db: SysDb;
  /** Who the daemon runs as. */
  identity: DaemonIdentity;
  /** 'warn' (--check): judged as a daemon run as root would start the server. */
  mode: PrivilegeMode;
  lookup: PathLookup;
}

/**
 * The warning for a service whose server its user cannot execute, or null. Only services that
 * start a program as another user than root are judged: a daemon that is not root runs its
 * servers as itself (privileges.ts refuses the others), and root's own access is validate.ts's
 * server check.
 */
export function serverAccessWarning(service: Service, ctx: ServerAccessContext): string | null {
  const server = service.server;
  if (!startsProgram(service) || server === null || !server.startsWith('/')) return null;
  if (ctx.identity.uid !== 0 && ctx.mode !== 'warn') return null;
  const c = childCredentials(service, ctx.db, 0);
  if (!c.ok || c.credentials.uid === null || c.credentials.uid === 0) return null;
  const reader: Reader = { uid: c.credentials.uid, gid: c.credentials.gid, groups: c.credentials.groups ?? [] };
  const name = (uid: number): string | undefined => ctx.db.user(String(uid))?.name;
  const why = execDenial(server, reader, ctx.lookup, name);
  if (why === null) return null;
  const who = name(reader.uid);
  const user = who === undefined ? `uid ${reader.uid}` : `'${who}' (uid ${reader.uid})`;
  return `user ${user} cannot execute server ${service.server}: ${why}; every connection to service '${service.id}' would fail to start it`;
}

/** The real file system, for PathLookup. */
export const systemPathLookup: PathLookup = {
  stat(path) {
    try {
      const st = statSync(path);
      return { kind: st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other', mode: st.mode, uid: st.uid, gid: st.gid };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT' || code === 'ENOTDIR' ? null : undefined;
    }
  },
  realpath(path) {
    try {
      return realpathSync(path);
    } catch {
      return null;
    }
  },
};
