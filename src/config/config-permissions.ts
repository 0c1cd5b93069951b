// Warnings about configuration files that someone other than the daemon's owner can change.
//
// Whoever can write a configuration file decides which programs tsinetd starts and as which
// user (usually root). xinetd does not look; tsinetd warns, at `--check` and at every load,
// with a located warning naming the file:
//   - a file writable by any user (mode o+w), or owned by a user other than root and the
//     daemon's own;
//   - a file in a directory any user can write without the sticky bit (the file can be
//     replaced);
//   - an `includedir` directory any user can write, sticky or not (anyone can add a file,
//     that is a service).
// Group-writable files are not reported (a group of administrators is a common set-up).
// Pure: the file system comes in through `stat`.

import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { diag, type Diagnostic, type SourcePosition } from '../diagnostics.js';

/** What the checks need to know about a path (stat(2), symlinks followed); null if missing. */
export interface PathMode {
  mode: number;
  uid: number;
}

export type ModeProbe = (path: string) => PathMode | null;

/** stat(2) of a path; null when it cannot be examined. */
export function statMode(path: string): PathMode | null {
  try {
    const st = statSync(path);
    return { mode: st.mode, uid: st.uid };
  } catch {
    return null;
  }
}

/** An `includedir` directive: the directory it names (resolved) and where it is written. */
export interface IncludeDirRef {
  dir: string;
  at: SourcePosition;
  length: number;
}

export interface PermissionContext {
  /** The daemon's effective uid: files it owns are trusted, as are root's. */
  euid: number;
  stat: ModeProbe;
  /** A user name for a uid, for the messages. */
  userName?: (uid: number) => string | undefined;
}

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');
const worldWritable = (m: PathMode): boolean => (m.mode & 0o002) !== 0;
const sticky = (m: PathMode): boolean => (m.mode & 0o1000) !== 0;

function owner(uid: number, ctx: PermissionContext): string {
  const name = ctx.userName?.(uid);
  return name === undefined ? `uid ${uid}` : `uid ${uid} (${name})`;
}

/** The warnings for the files read (in order, each once) and the includedir directories. */
export function permissionWarnings(files: readonly string[], includeDirs: readonly IncludeDirRef[], ctx: PermissionContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const start = (file: string): SourcePosition => ({ file, line: 1, column: 1 });
  const seen = new Set<string>();
  for (const file of files) {
    if (seen.has(file)) continue;
    seen.add(file);
    const m = ctx.stat(file);
    if (m === null) continue;
    if (worldWritable(m)) {
      out.push(
        diag(
          'unsafe-permissions',
          'warning',
          start(file),
          `${file} can be written by any user (mode ${octal(m.mode)}): anyone could choose the programs tsinetd starts and their user; remove write access for others (chmod o-w ${file})`,
        ),
      );
    } else if (m.uid !== 0 && m.uid !== ctx.euid) {
      out.push(
        diag(
          'unsafe-permissions',
          'warning',
          start(file),
          `${file} belongs to ${owner(m.uid, ctx)}, who can choose the programs tsinetd (${owner(ctx.euid, ctx)}) starts and their user; give it to root or to the user tsinetd runs as`,
        ),
      );
    }
    const dir = dirname(file);
    const d = ctx.stat(dir);
    if (d !== null && worldWritable(d) && !sticky(d)) {
      out.push(
        diag(
          'unsafe-permissions',
          'warning',
          start(file),
          `the directory ${dir} can be written by any user (mode ${octal(d.mode)}, no sticky bit): anyone could replace ${file}`,
        ),
      );
    }
  }
  const seenDirs = new Set<string>();
  for (const ref of includeDirs) {
    if (seenDirs.has(ref.dir)) continue;
    seenDirs.add(ref.dir);
    const d = ctx.stat(ref.dir);
    if (d === null || !worldWritable(d)) continue;
    out.push(
      diag(
        'unsafe-permissions',
        'warning',
        ref.at,
        `the directory ${ref.dir} can be written by any user (mode ${octal(d.mode)}): anyone could add a service to the configuration`,
        ref.length,
      ),
    );
  }
  return out;
}
