// exec-access.ts on a file system given as a table: which user may execute which server, as the
// kernel decides from permission bits (owner, group, supplementary groups, others; root needs one
// execute bit), through every directory of the path and of the path its links lead to; and which
// services are judged at all (a root daemon or --check; not root's own servers).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execDenial, serverAccessWarning, type PathFacts, type PathLookup } from '../../../src/config/exec-access.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';
import { fixtureDb } from './xinetd/xinetd-fixture-env.js';

const dir = (mode: number, uid = 0, gid = 0): PathFacts => ({ kind: 'directory', mode, uid, gid });
const file = (mode: number, uid = 0, gid = 0): PathFacts => ({ kind: 'file', mode, uid, gid });

/** A file system: path → facts; `links` maps a path to what it resolves to. */
function fs(table: Record<string, PathFacts | 'unknown'>, links: Record<string, string> = {}): PathLookup {
  return {
    stat: (p) => {
      const target = links[p] ?? p;
      const f = table[target];
      return f === 'unknown' ? undefined : (f ?? null);
    },
    realpath: (p) => (table[links[p] ?? p] === undefined ? null : (links[p] ?? p)),
  };
}

const NOBODY = { uid: 65534, gid: 65534, groups: [] as number[] };
const base = { '/': dir(0o755), '/srv': dir(0o755), '/root': dir(0o700), '/root/bin': dir(0o755), '/srv/bin': dir(0o750, 0, 50) };

test('a directory on the path that the user cannot search', () => {
  const f = fs({ ...base, '/root/bin/srv': file(0o755) });
  assert.match(execDenial('/root/bin/srv', NOBODY, f) ?? '', /^no search permission on directory \/root \(mode 0700, owner uid 0, group 0\)$/);
  // the owner of /root may search it
  assert.equal(execDenial('/root/bin/srv', { uid: 0, gid: 0, groups: [] }, f), null);
});

test('group class: the primary group or a supplementary group opens a 0750 directory; others do not', () => {
  const f = fs({ ...base, '/srv/bin/srv': file(0o755) });
  assert.match(execDenial('/srv/bin/srv', NOBODY, f) ?? '', /no search permission on directory \/srv\/bin/);
  assert.equal(execDenial('/srv/bin/srv', { uid: 1000, gid: 50, groups: [] }, f), null);
  assert.equal(execDenial('/srv/bin/srv', { uid: 1000, gid: 100, groups: [7, 50] }, f), null);
  // the owner class is decided by the uid alone: an owner without the bit is refused, whatever the group says
  const owned = fs({ ...base, '/srv/bin': dir(0o070, 1000, 50), '/srv/bin/srv': file(0o755) });
  assert.match(execDenial('/srv/bin/srv', { uid: 1000, gid: 50, groups: [] }, owned) ?? '', /no search permission/);
});

test("the execute bit of the file for the user's class; root needs some execute bit", () => {
  const f = fs({ ...base, '/srv/a': file(0o744), '/srv/b': file(0o754, 0, 65534), '/srv/c': file(0o644) });
  assert.match(execDenial('/srv/a', NOBODY, f) ?? '', /^no execute permission on \/srv\/a for it \(mode 0744/);
  assert.equal(execDenial('/srv/b', NOBODY, f), null); // group nogroup has r-x
  assert.match(execDenial('/srv/c', { uid: 0, gid: 0, groups: [] }, f) ?? '', /no execute permission/);
  assert.equal(execDenial('/srv/a', { uid: 0, gid: 0, groups: [] }, f), null);
});

test('a missing file or directory is named; what cannot be looked at is not judged', () => {
  assert.equal(execDenial('/srv/gone', NOBODY, fs(base)), '/srv/gone does not exist');
  assert.equal(execDenial('/opt/app/srv', NOBODY, fs(base)), '/opt does not exist');
  assert.equal(execDenial('/srv/x', NOBODY, fs({ ...base, '/srv': 'unknown' })), null);
  // a directory is validate.ts's business (checkServer), not a permission matter
  assert.equal(execDenial('/srv/bin', { uid: 0, gid: 0, groups: [] }, fs(base)), null);
});

test('a symbolic link: the directories of the target are searched too', () => {
  const f = fs({ ...base, '/root/bin/real': file(0o755) }, { '/srv/link': '/root/bin/real' });
  assert.match(execDenial('/srv/link', NOBODY, f) ?? '', /no search permission on directory \/root /);
});

const db = fixtureDb();
function svc(extra: Partial<Service>): Service {
  return { ...newService('s', 'xinetd', { file: 'f', line: 1 }), server: '/root/bin/srv', user: 'nobody', ...extra };
}
const lookup = fs({ ...base, '/root/bin/srv': file(0o755), '/srv/ok': file(0o755) });
const asRoot = { db, identity: { uid: 0, gid: 0 }, mode: 'refuse' as const, lookup };

test('serverAccessWarning: the message names the user, the server and the reason', () => {
  assert.equal(
    serverAccessWarning(svc({}), asRoot),
    "user 'nobody' (uid 65534) cannot execute server /root/bin/srv: no search permission on directory /root (mode 0700, owner root, group 0); every connection to service 's' would fail to start it",
  );
  assert.equal(serverAccessWarning(svc({ server: '/srv/ok' }), asRoot), null);
});

test('serverAccessWarning: who is judged', () => {
  // root's own servers: validate.ts's server check (access as the daemon) covers them
  assert.equal(serverAccessWarning(svc({ user: 'root' }), asRoot), null);
  assert.equal(serverAccessWarning(svc({ user: null }), asRoot), null);
  // internal services and redirects start nothing
  assert.equal(serverAccessWarning(svc({ type: ['INTERNAL'] }), asRoot), null);
  assert.equal(serverAccessWarning(svc({ redirect: { host: '127.0.0.1', port: 1 } }), asRoot), null);
  // a daemon that is not root runs servers as itself (privileges.ts); --check judges as root would
  const notRoot = { ...asRoot, identity: { uid: 1000, gid: 1000 } };
  assert.equal(serverAccessWarning(svc({}), notRoot), null);
  assert.match(serverAccessWarning(svc({}), { ...notRoot, mode: 'warn' }) ?? '', /cannot execute server/);
  // unknown users are checkUserGroup's business
  assert.equal(serverAccessWarning(svc({ user: 'ghost' }), asRoot), null);
  // a numeric uid without a passwd entry is judged as that uid
  assert.match(serverAccessWarning(svc({ user: '4242' }), asRoot) ?? '', /^user uid 4242 cannot execute server/);
});
