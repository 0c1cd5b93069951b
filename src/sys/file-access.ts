// What a process with given ids may do to a file, judged from permission bits as the kernel
// judges them (owner class, else group class for the primary or a supplementary group, else
// others; ACLs and capabilities other than root's are not looked at). Pure: owners and modes come
// in as data, read by the callers (wrappers.ts for the TCP wrappers' rule files, exec-access.ts
// for a service's server program).

import { dirname } from 'node:path';

/** Owner and mode of a file or directory (from stat). */
export interface FileAccess {
  mode: number;
  uid: number;
  gid: number;
}

/** Who acts on the file: a uid, its primary group (null: none known) and supplementary groups. */
export interface Reader {
  uid: number;
  gid: number | null;
  groups: readonly number[];
}

/** The permission bits: 4 read, 1 execute (search, for a directory). */
export type AccessBit = 4 | 1;

/**
 * Whether a process with these ids has `bit` on a file of this owner and mode. Root may read
 * and search anything; it may execute a file only when some execute bit is set (as the kernel
 * decides for CAP_DAC_OVERRIDE), so `regularExec` asks for that rule.
 */
export function permits(file: FileAccess, r: Reader, bit: AccessBit, regularExec = false): boolean {
  if (r.uid === 0) return !regularExec || (file.mode & 0o111) !== 0;
  if (file.uid === r.uid) return (file.mode & (bit << 6)) !== 0;
  if ((r.gid !== null && file.gid === r.gid) || r.groups.includes(file.gid)) return (file.mode & (bit << 3)) !== 0;
  return (file.mode & bit) !== 0;
}

/**
 * Whether a process with these ids may open the file: read permission on it, search permission
 * on every directory above it.
 */
export function mayRead(file: FileAccess, dirs: readonly FileAccess[], r: Reader): boolean {
  return permits(file, r, 4) && dirs.every((d) => permits(d, r, 1));
}

/** The directories a lookup of `path` passes through, from the root down. */
export function directoriesOf(path: string): string[] {
  const out: string[] = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    out.unshift(dir);
    if (dir === dirname(dir)) return out;
  }
}
