// privileges.ts and its use by the loaders: a daemon that is not root refuses, at load time and
// with a located error, the services whose servers would have to run as another user; `group`
// is ignored with a warning; --check (warn mode) only warns. Root is never concerned.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadConfig, loadXinetdConfig } from '../../../src/config/config.js';
import { privilegeFindings } from '../../../src/sys/privileges.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';
import { fixtureDb } from '../config/xinetd/xinetd-fixture-env.js';

const db = fixtureDb();
const NOBODY = { uid: 65534, gid: 65534 };

function svc(extra: Partial<Service>): Service {
  return { ...newService('s', 'xinetd', { file: 'f', line: 1 }), server: '/bin/true', user: 'root', ...extra };
}

test('root may start servers as anyone: nothing to say', () => {
  assert.deepEqual(privilegeFindings(svc({ user: 'nobody', group: 'daemon' }), { uid: 0, gid: 0 }, db), []);
});

test('not root: another user (by name or number) is refused; its own user is fine', () => {
  const [root] = privilegeFindings(svc({ user: 'root' }), NOBODY, db);
  assert.equal(root?.kind, 'refuse');
  assert.match(root.message, /^tsinetd runs as uid 65534 \(nobody\), not as root: it cannot start servers as user 'root'; the service is not started/);
  assert.equal(privilegeFindings(svc({ user: '0' }), NOBODY, db)[0]?.kind, 'refuse');
  assert.equal(privilegeFindings(svc({ user: '4242' }), NOBODY, db)[0]?.kind, 'refuse'); // a uid without a name
  assert.deepEqual(privilegeFindings(svc({ user: 'nobody' }), NOBODY, db), []);
  assert.deepEqual(privilegeFindings(svc({ user: '65534' }), NOBODY, db), []);
  // unknown names are the business of checkUserGroup
  assert.deepEqual(privilegeFindings(svc({ user: 'ghost' }), NOBODY, db), []);
});

test("not root: group is ignored with a warning unless it is the daemon's own", () => {
  const f = privilegeFindings(svc({ user: 'nobody', group: 'daemon' }), NOBODY, db);
  assert.deepEqual(
    f.map((x) => [x.kind, x.attribute]),
    [['warning', 'group']],
  );
  assert.match(f[0]!.message, /group 'daemon' is ignored: tsinetd is not root, so servers run with its own group \(gid 65534\), as xinetd does/);
  assert.deepEqual(privilegeFindings(svc({ user: 'nobody', group: 'nogroup' }), NOBODY, db), []);
});

test('services that start no program are not concerned; warn mode only warns', () => {
  assert.deepEqual(privilegeFindings(svc({ type: ['INTERNAL'], server: null }), NOBODY, db), []);
  assert.deepEqual(privilegeFindings(svc({ redirect: { host: '127.0.0.1', port: 1 }, server: null }), NOBODY, db), []);
  const [w] = privilegeFindings(svc({ user: 'root' }), NOBODY, db, 'warn');
  assert.equal(w?.kind, 'warning');
  assert.match(w.message, /a daemon started by this user would refuse the service \(as root it is served\)$/);
});

function tempFile(t: TestContext, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-priv-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const CONF = `service a
{
\ttype        = UNLISTED
\tport        = 7000
\tsocket_type = stream
\tprotocol    = tcp
\twait        = no
\tuser        = root
\tgroup       = daemon
\tserver      = /bin/true
}
`;

test('xinetd: the refusal is located at the user value and makes a problem; group at its value', (t) => {
  const file = tempFile(t, 'xinetd.conf', CONF);
  const r = loadXinetdConfig(file, { db, identity: NOBODY, probe: () => ({ isFile: true, isDirectory: false, executable: true }) });
  const found = r.diagnostics.filter((d) => /not (as )?root/.test(d.message)).map((d) => `${d.line}:${d.column}:${d.severity}`);
  assert.deepEqual(found, ['8:16:error', '9:16:warning']);
  assert.deepEqual(r.services[0]!.problems, ["tsinetd runs as uid 65534 (nobody), not as root: it cannot start servers as user 'root'"]);
  assert.equal(r.services[0]!.enabled, true); // in the table with a problem, like an unknown user

  const warned = loadXinetdConfig(file, { db, identity: NOBODY, privileges: 'warn', probe: () => ({ isFile: true, isDirectory: false, executable: true }) });
  assert.deepEqual(warned.services[0]!.problems, []);
  assert.ok(
    warned.diagnostics.every((d) => d.severity !== 'error'),
    JSON.stringify(warned.diagnostics),
  );
});

test('inetd.conf: the refusal is located at the line of the entry', async (t) => {
  const file = tempFile(t, 'inetd.conf', '# services\n7777 stream tcp nowait root /bin/true true\necho stream tcp nowait root internal\n');
  const table = await loadConfig({ configFile: null, inetdFiles: [file] }, { identity: NOBODY });
  const refused = table.diagnostics.filter((d) => /not (as )?root/.test(d.message));
  assert.deepEqual(
    refused.map((d) => `${d.line}:${d.column}:${d.severity}`),
    ['2:1:error'],
  );
  const served = table.services.find((s) => s.name === '7777');
  assert.equal(served?.problems.length, 1);
  assert.deepEqual(table.services.find((s) => s.name === 'echo')?.problems, []); // internal: runs in the daemon
});
