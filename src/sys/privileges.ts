// Which services a daemon that is not root can start, judged at load time (pure).
//
// A server is started as the service's `user`. Only root can switch to another user, so a
// daemon running as, say, nobody cannot start the servers of a service with `user = root`.
// Real xinetd 2.3.15.3 (measured, run as nobody) still listens for such a service and then
// fails in every forked child ("setuid failed: Operation not permitted"): the client gets a
// closed connection. tsinetd refuses the service when it loads the configuration, with a
// located error, so that it is never served at all, and a server never runs as a user the
// configuration did not name.
// `group` and `groups` need root too; as xinetd does, a daemon that is not root ignores them
// (its servers keep the daemon's group): tsinetd says so with a warning.
// `--check` and `--dump` are often run by an ordinary user on a configuration meant for a
// daemon run as root: there the refusal is only a warning ('warn' mode) and does not fail.

import type { SysDb } from './sysdb.js';
import type { Service } from '../table.js';
import { startsProgram } from '../service-kind.js';

/** Who the daemon runs as. */
export interface DaemonIdentity {
  uid: number;
  gid: number;
}

/** The identity of this process (effective ids). */
export function currentIdentity(): DaemonIdentity {
  const uid = typeof process.geteuid === 'function' ? process.geteuid() : 0;
  const gid = typeof process.getegid === 'function' ? process.getegid() : 0;
  return { uid, gid };
}

/** Whether the service starts a program (internal services and redirects run in the daemon). */

const DIGITS = /^\d+$/;

function uidOf(user: string, db: Pick<SysDb, 'user'>): number | null {
  const entry = db.user(user);
  if (entry !== undefined) return entry.uid;
  return DIGITS.test(user) ? Number(user) : null;
}

function gidOf(group: string, db: Pick<SysDb, 'group'>): number | null {
  const entry = db.group(group);
  if (entry !== undefined) return entry.gid;
  return DIGITS.test(group) ? Number(group) : null;
}

function describeUid(uid: number, db: Pick<SysDb, 'user'>): string {
  const name = db.user(String(uid))?.name;
  return name === undefined ? `uid ${uid}` : `uid ${uid} (${name})`;
}

/** A refusal, or a warning; `attribute` is the one the finding is about (where to locate it). */
export type PrivilegeFinding =
  { kind: 'refuse'; attribute: 'user'; message: string; problem: string } | { kind: 'warning'; attribute: 'user' | 'group'; message: string };

/** 'refuse': the daemon's own load (services are refused); 'warn': --check/--dump. */
export type PrivilegeMode = 'refuse' | 'warn';

/**
 * What a daemon running as `who` must say about `service`: a refusal when its servers would
 * have to run as another user, a warning when its `group` is ignored; [] when all is well.
 * Unknown users and groups are left to the other checks.
 */
export function privilegeFindings(
  service: Service,
  who: DaemonIdentity,
  db: Pick<SysDb, 'user' | 'group'>,
  mode: PrivilegeMode = 'refuse',
): PrivilegeFinding[] {
  if (who.uid === 0 || !startsProgram(service)) return [];
  const out: PrivilegeFinding[] = [];
  if (service.user !== null) {
    const uid = uidOf(service.user, db);
    if (uid !== null && uid !== who.uid) {
      const problem = `tsinetd runs as ${describeUid(who.uid, db)}, not as root: it cannot start servers as user '${service.user}'`;
      if (mode === 'warn') {
        out.push({ kind: 'warning', attribute: 'user', message: `${problem}; a daemon started by this user would refuse the service (as root it is served)` });
      } else {
        out.push({
          kind: 'refuse',
          attribute: 'user',
          problem,
          message: `${problem}; the service is not started (run tsinetd as root, or set 'user' to the user tsinetd runs as)`,
        });
      }
    }
  }
  if (service.group !== null) {
    const gid = gidOf(service.group, db);
    if (gid !== null && gid !== who.gid) {
      out.push({
        kind: 'warning',
        attribute: 'group',
        message: `group '${service.group}' is ignored: tsinetd is not root, so servers run with its own group (gid ${who.gid}), as xinetd does`,
      });
    }
  }
  return out;
}
