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

import type { SysDb } from './sysdb.js';
import type { Service } from './table.js';

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
function startsProgram(s: Service): boolean {
  return s.server !== null && s.redirect === null && !s.type.includes('INTERNAL');
}

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

export type PrivilegeFinding =
  | { kind: 'refuse'; message: string; problem: string }
  | { kind: 'ignored-group'; message: string };

/**
 * What a daemon running as `who` must say about `service`: a refusal when its servers would
 * have to run as another user, a warning when its `group` is ignored; [] when all is well.
 * Unknown users and groups are left to the other checks.
 */
export function privilegeFindings(service: Service, who: DaemonIdentity, db: Pick<SysDb, 'user' | 'group'>): PrivilegeFinding[] {
  if (who.uid === 0 || !startsProgram(service)) return [];
  const out: PrivilegeFinding[] = [];
  if (service.user !== null) {
    const uid = uidOf(service.user, db);
    if (uid !== null && uid !== who.uid) {
      const problem = `tsinetd runs as ${describeUid(who.uid, db)}, not as root: it cannot start servers as user '${service.user}'`;
      out.push({
        kind: 'refuse',
        problem,
        message: `${problem}; the service is not started (run tsinetd as root, or set 'user' to the user tsinetd runs as)`,
      });
    }
  }
  if (service.group !== null) {
    const gid = gidOf(service.group, db);
    if (gid !== null && gid !== who.gid) {
      out.push({
        kind: 'ignored-group',
        message: `group '${service.group}' is ignored: tsinetd is not root, so servers run with its own group (gid ${who.gid}), as xinetd does`,
      });
    }
  }
  return out;
}
