// What a server process gets from xinetd, computed from its Service: argv, environment,
// credentials, umask, nice and rlimits (a SpawnSpec). Pure: the daemon's environment, uid,
// umask and the system databases are passed in.
//
// xinetd's rules (child.c, measured on xinetd 2.3.15.3):
// - environment: xinetd's whole environment, or only the `passenv` names when passenv is set
//   (nothing when it is set empty), then the `env` entries, then REMOTE_HOST=<numeric peer>;
//   a later entry replaces an earlier one of the same name, in place. Without a peer address
//   (wait = yes stream services) REMOTE_HOST is xinetd's literal "<no address>".
// - credentials, only when the daemon runs as root and `user` or `group` is set: gid = `group`
//   or the user's primary group; supplementary groups = initgroups(user) with `groups = yes`
//   (and a user), else none at all; uid = `user`. As non-root these attributes do nothing.
// - umask: `umask` when set, else the daemon's own (xinetd ORs its start-up umask with 022).

import { basename } from 'node:path';
import type { Peer } from '../peer.js';
import type { SpawnSpec } from './spawn-types.js';
import type { SysDb } from '../sys/sysdb.js';
import type { Service } from '../table.js';

/** The REMOTE_HOST value xinetd gives a server when it has no peer address. */
export const NO_ADDRESS = '<no address>';

export type Environment = Readonly<Record<string, string | undefined>>;

/** The child's environment as NAME=value strings, in xinetd's order. */
export function childEnvironment(service: Service, peer: Peer | null, daemonEnv: Environment): string[] {
  const vars = new Map<string, string>();
  if (service.passenv === null) {
    for (const [name, value] of Object.entries(daemonEnv)) if (value !== undefined) vars.set(name, value);
  } else {
    for (const name of service.passenv) {
      const value = daemonEnv[name];
      if (value !== undefined) vars.set(name, value);
    }
  }
  for (const entry of service.env) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    vars.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  vars.set('REMOTE_HOST', peer === null ? NO_ADDRESS : peer.address);
  return [...vars].map(([name, value]) => `${name}=${value}`);
}

export interface Credentials {
  uid: number | null;
  gid: number | null;
  /** null = leave the daemon's supplementary groups; [] = none (setgroups(0)). */
  groups: number[] | null;
}

export type CredentialsResult = { ok: true; credentials: Credentials } | { ok: false; error: string };

const DIGITS = /^\d+$/;

/** The ids a server of `service` runs with, as xinetd's set_credentials() computes them. */
export function childCredentials(service: Service, db: SysDb, daemonUid: number): CredentialsResult {
  const unchanged: Credentials = { uid: null, gid: null, groups: null };
  if (service.user === null && service.group === null) return { ok: true, credentials: unchanged };
  // xinetd(8): user and group are ineffective unless xinetd runs as the super-user.
  if (daemonUid !== 0) return { ok: true, credentials: unchanged };

  let uid: number | null = null;
  let primaryGid: number | null = null;
  let userName: string | null = null;
  if (service.user !== null) {
    const entry = db.user(service.user);
    if (entry !== undefined) {
      uid = entry.uid;
      primaryGid = entry.gid;
      userName = entry.name;
    } else if (DIGITS.test(service.user)) {
      uid = Number(service.user);
      primaryGid = uid;
    } else {
      return { ok: false, error: `unknown user ${service.user}` };
    }
  }

  let gid = primaryGid;
  if (service.group !== null) {
    const entry = db.group(service.group);
    if (entry !== undefined) gid = entry.gid;
    else if (DIGITS.test(service.group)) gid = Number(service.group);
    else return { ok: false, error: `unknown group ${service.group}` };
  }

  let groups: number[] = [];
  if (service.groups && userName !== null) {
    const entry = db.user(userName);
    if (entry !== undefined) groups = db.supplementaryGroups(entry);
  }
  return { ok: true, credentials: { uid, gid, groups } };
}

/** The umask a server gets: its own `umask`, else the daemon's (already ORed with 022). */
export function childUmask(service: Service, daemonUmask: number): number {
  return service.umask ?? daemonUmask;
}

/** The umask xinetd sets for itself at start-up: the inherited one ORed with 022. */
export function daemonUmaskFrom(inherited: number): number {
  return (inherited | 0o022) & 0o777;
}

/** argv of the server: server_argv as loaded, or the basename of `server` when empty. */
export function childArgv(service: Service): string[] {
  if (service.server_argv.length > 0) return [...service.server_argv];
  return service.server === null ? [] : [basename(service.server)];
}

export interface ChildContext {
  /** The daemon's environment (process.env). */
  env: Environment;
  db: SysDb;
  /** The daemon's effective uid. */
  uid: number;
  /** The daemon's umask (xinetd's: inherited | 022). */
  umask: number;
}

export type SpawnSpecResult = { ok: true; spec: SpawnSpec } | { ok: false; error: string };

/** Everything the spawner needs to start a server of `service` for `peer`. */
export function buildSpawnSpec(service: Service, peer: Peer | null, ctx: ChildContext): SpawnSpecResult {
  if (service.server === null) return { ok: false, error: `service ${service.id} has no server program` };
  const creds = childCredentials(service, ctx.db, ctx.uid);
  if (!creds.ok) return creds;
  return {
    ok: true,
    spec: {
      path: service.server,
      argv: childArgv(service),
      env: childEnvironment(service, peer, ctx.env),
      uid: creds.credentials.uid,
      gid: creds.credentials.gid,
      groups: creds.credentials.groups,
      umask: childUmask(service, ctx.umask),
      nice: service.nice,
      rlimits: { ...service.rlimits },
    },
  };
}

/** nice(3) semantics: an increment on the current priority, kept within -20..19. */
export function applyNice(current: number, increment: number): number {
  return Math.max(-20, Math.min(19, current + increment));
}
