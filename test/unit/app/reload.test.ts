// Reload as a merge (src/app/reload.ts): which definitions a reload takes or keeps, and what it
// keeps, restarts, adds and removes; with hand-made tables and with tables the real loader
// makes of broken edits.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../../src/config/config.js';
import { about, diag, type Diagnostic } from '../../../src/diagnostics.js';
import { keepsSockets, mergeReload, planReload, reinstate, type MergeEnv } from '../../../src/app/reload.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service, ServiceTable } from '../../../src/table.js';
import { AS_ROOT } from '../config/xinetd/xinetd-fixture-env.js';

function svc(id: string, attrs: Partial<Service> = {}, file = 'x.conf', line = 1): Service {
  return Object.assign(newService(id, 'xinetd', { file, line }), { port: 7000, server: '/bin/cat', server_argv: ['cat'] }, attrs);
}

function table(services: Service[], diagnostics: Diagnostic[] = [], files = ['x.conf']): ServiceTable {
  return { services, diagnostics, files };
}

const err = (file: string, line: number, message: string): Diagnostic => diag('bad-value', 'error', { file, line, column: 1 }, message);
const exists: MergeEnv = { fileExists: () => true };
const ids = (list: readonly Service[]): string[] => list.map((s) => s.id).sort();

describe('planReload', () => {
  test('same id and listening parameters: kept; other settings do not matter', () => {
    const p = planReload([svc('a', { port: 7000 })], [svc('a', { port: 7000, instances: 1, only_from: ['127.0.0.1'] })]);
    assert.deepEqual(ids(p.keep), ['a']);
    assert.equal(p.restart.length + p.add.length + p.remove.length, 0);
  });

  test('a changed port, bind address, wait or socket type: restart', () => {
    const before = [svc('port', { port: 7000 }), svc('bind', { port: 7001 }), svc('wait', { port: 7002 }), svc('ipv4', { port: 7003 })];
    const after = [
      svc('port', { port: 7010 }),
      svc('bind', { port: 7001, bind: '127.0.0.1' }),
      svc('wait', { port: 7002, wait: true }),
      svc('ipv4', { port: 7003, flags: ['IPv4'] }),
    ];
    const p = planReload(before, after);
    assert.deepEqual(p.restart.map((r) => r.to.id).sort(), ['bind', 'ipv4', 'port', 'wait']);
    assert.equal(p.restart.find((r) => r.to.id === 'port')?.from.port, 7000);
    assert.equal(p.keep.length, 0);
  });

  test('one socket per family (inetd.conf tcp) against one dual-stack socket: restart', () => {
    const p = planReload(
      [svc('split', { family_sockets: true, v6only: true }), svc('same', { family_sockets: true, v6only: true, port: 7001 })],
      [svc('split', { v6only: false }), svc('same', { family_sockets: true, v6only: true, port: 7001 })],
    );
    assert.deepEqual(
      p.restart.map((r) => r.to.id),
      ['split'],
    );
    assert.deepEqual(ids(p.keep), ['same']);
  });

  test('new ids are added, missing ids removed (even when the newcomer takes over the same port)', () => {
    const p = planReload([svc('old', { port: 7000 }), svc('stay', { port: 7001 })], [svc('new', { port: 7000 }), svc('stay', { port: 7001 })]);
    assert.deepEqual(ids(p.add), ['new']);
    assert.deepEqual(ids(p.remove), ['old']);
    assert.deepEqual(ids(p.keep), ['stay']);
  });
});

describe('mergeReload: hand-made tables', () => {
  test('a clean new table is taken as it is', () => {
    const cur = [svc('a'), svc('b', {}, 'x.conf', 10)];
    const next = table([svc('a', { instances: 3 }), svc('c', {}, 'x.conf', 20)]);
    const m = mergeReload(cur, next, exists);
    assert.deepEqual(m.kept, []);
    assert.deepEqual(ids(m.serve), ['a', 'c']);
    assert.equal(m.serve.find((s) => s.id === 'a')?.instances, 3);
  });

  test('an edit that makes the definition fail (missing program): the current one stays, with the reason', () => {
    const cur = [svc('a')];
    const next = table(
      [svc('a', { server: '/nope', server_argv: ['nope'], problems: ['server /nope does not exist'] })],
      [err('x.conf', 5, 'server /nope does not exist')],
    );
    const m = mergeReload(cur, next, exists);
    assert.equal(m.kept.length, 1);
    assert.equal(m.kept[0]!.service, cur[0]);
    assert.match(m.kept[0]!.why, /x\.conf:5:1: error: server \/nope does not exist/);
    assert.deepEqual(m.serve, cur);
    assert.equal(m.table.services[0], cur[0]);
  });

  test('an unchanged definition that cannot run any more (its program was removed): dropped, as xinetd does', () => {
    const cur = [svc('a', { server: '/opt/gone', server_argv: ['gone'] })];
    const next = table(
      [svc('a', { server: '/opt/gone', server_argv: ['gone'], problems: ['server /opt/gone does not exist'] }, 'x.conf', 3)],
      [err('x.conf', 5, 'server /opt/gone does not exist')],
    );
    const m = mergeReload(cur, next, exists);
    assert.deepEqual(m.kept, []);
    assert.deepEqual(m.serve, []);
  });

  test('disabled by an error in its block: kept; disabled on purpose (no error): removed', () => {
    const cur = [svc('bad', {}, 'x.conf', 1), svc('off', {}, 'x.conf', 10)];
    const next = table(
      [svc('bad', { enabled: false }, 'x.conf', 1), svc('off', { enabled: false }, 'x.conf', 10)],
      [err('x.conf', 4, "bad value for 'instances'")],
    );
    const m = mergeReload(cur, next, exists);
    assert.deepEqual(
      m.kept.map((k) => k.service.id),
      ['bad'],
    );
    assert.deepEqual(ids(m.serve), ['bad']);
  });

  test('gone from a file whose error no remaining service explains: kept', () => {
    const cur = [svc('a', {}, 'd/a', 1), svc('b', {}, 'd/b', 1)];
    // d/a lost its block to a syntax error (no service left in it); d/b was deleted.
    const next = table([], [err('d/a', 3, 'syntax error')], ['x.conf', 'd/a']);
    const m = mergeReload(cur, next, { fileExists: (f) => f !== 'd/b' });
    assert.deepEqual(
      m.kept.map((k) => k.service.id),
      ['a'],
    );
    assert.deepEqual(ids(m.serve), ['a']);
  });

  test('gone while another service of the same file explains the error: removed', () => {
    const cur = [svc('a', {}, 'x.conf', 1), svc('b', {}, 'x.conf', 10)];
    const next = table([svc('b', { enabled: false }, 'x.conf', 1)], [err('x.conf', 3, 'bad value')]);
    const m = mergeReload(cur, next, exists);
    assert.deepEqual(
      m.kept.map((k) => k.service.id),
      ['b'],
    );
  });

  test('a file not read any more: kept while it exists and the load has errors, removed when it is gone', () => {
    const cur = [svc('a', {}, 'd/a', 1)];
    const broken = table([], [err('x.conf', 2, 'cannot open includedir')], ['x.conf']);
    const kept = mergeReload(cur, broken, exists);
    assert.match(kept.kept[0]?.why ?? '', /^d\/a was not read: x\.conf:2:1: error: cannot open includedir/);
    assert.deepEqual(mergeReload(cur, broken, { fileExists: () => false }).kept, []);
    assert.deepEqual(mergeReload(cur, table([], [], ['x.conf']), exists).kept, []);
  });

  test('the errors of a service: those in its block, and those that refer to it by id, never by their text', () => {
    // 'echo' is switched off on purpose (disable = yes); an error in the block of 'other' quotes
    // the word 'echo' in its message. Read by text, that error looked like echo's own, and the
    // old echo was served on. It is other's.
    const cur = [svc('echo', {}, 'x.conf', 1), svc('other', {}, 'x.conf', 10)];
    const quoting = err('x.conf', 12, "bad value for 'server_args': 'echo' is not allowed here");
    const offOnPurpose = mergeReload(
      cur,
      table([svc('echo', { enabled: false }, 'x.conf', 1), svc('other', { enabled: false }, 'x.conf', 10)], [quoting]),
      exists,
    );
    assert.deepEqual(
      offOnPurpose.kept.map((k) => k.service.id),
      ['other'],
    );
    assert.deepEqual(ids(offOnPurpose.serve), ['other']);
    // An error about echo located outside its block (a port clash reported at the other
    // service's line, a check across files) is echo's when it refers to echo by id.
    const clash = about(diag('port-clash', 'error', { file: 'y.conf', line: 3, column: 1 }, 'port 7000/tcp is already used'), 'echo');
    const referred = mergeReload(
      cur,
      table([svc('echo', { enabled: false }, 'x.conf', 1), svc('other', {}, 'x.conf', 10)], [clash], ['x.conf', 'y.conf']),
      exists,
    );
    assert.deepEqual(
      referred.kept.map((k) => k.service.id),
      ['echo'],
    );
    assert.match(referred.kept[0]!.why, /y\.conf:3:1: error: port 7000\/tcp is already used/);
  });

  test('a broken service that was not served before is not resurrected', () => {
    const next = table([svc('a', { problems: ['unknown user'] })], [err('x.conf', 2, 'unknown user')]);
    const m = mergeReload([], next, exists);
    assert.deepEqual(m.kept, []);
    assert.deepEqual(m.serve, []);
  });
});

describe('mergeReload: lookups by id and by file', () => {
  test("a service's errors, in its block or naming it, keep the table's order; the first is the reason", () => {
    const cur = [svc('a', {}, 'x.conf', 1), svc('b', {}, 'x.conf', 10)];
    const named = about(diag('port-clash', 'error', { file: 'y.conf', line: 3, column: 1 }, 'port clash'), 'a');
    const inBlock = err('x.conf', 4, 'bad value');
    const m = mergeReload(cur, table([svc('a', { enabled: false }, 'x.conf', 1), svc('b', {}, 'x.conf', 10)], [named, inBlock], ['x.conf', 'y.conf']), exists);
    assert.equal(m.kept.length, 1);
    assert.match(m.kept[0]!.why, /^y\.conf:3:1: error: port clash \(and 1 more error\)$/);
  });

  test("services that start on the same line share its text (inetd.conf): an error there is each one's", () => {
    const cur = [svc('a', {}, 'x.conf', 3), svc('b', {}, 'x.conf', 3), svc('c', {}, 'x.conf', 4)];
    const next = table(
      [svc('a', { enabled: false }, 'x.conf', 3), svc('b', { enabled: false }, 'x.conf', 3), svc('c', { enabled: false }, 'x.conf', 4)],
      [err('x.conf', 3, 'bad')],
    );
    assert.deepEqual(ids(mergeReload(cur, next, exists).kept.map((k) => k.service)), ['a', 'b']);
  });

  test('a kept service gone from the table is appended once, after the new ones', () => {
    const cur = [svc('a', {}, 'd/a', 1)];
    const next = table([svc('b', {}, 'x.conf', 1)], [err('d/a', 2, 'syntax error')], ['x.conf', 'd/a']);
    const m = mergeReload(cur, next, exists);
    assert.deepEqual(
      m.table.services.map((s) => s.id),
      ['b', 'a'],
    );
  });

  test('3,000 services in 3 files: exactly the broken ones keep their definition, in place', () => {
    const files = ['x.conf', 'd/one', 'd/two'];
    const cur: Service[] = [];
    const nextServices: Service[] = [];
    const diagnostics: Diagnostic[] = [];
    const broken = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const file = files[i % 3]!;
      const line = 10 * Math.floor(i / 3) + 1;
      const id = `s${i}`;
      cur.push(svc(id, { port: 10000 + i }, file, line));
      if (i % 500 === 7) {
        // disabled by an error in its block
        nextServices.push(svc(id, { port: 10000 + i, enabled: false }, file, line));
        diagnostics.push(err(file, line + 2, `bad value in ${id}`));
        broken.add(id);
      } else if (i % 500 === 11) {
        // disabled by an error elsewhere that names it
        nextServices.push(svc(id, { port: 10000 + i, enabled: false }, file, line));
        diagnostics.push(about(err('x.conf', 1, `clash of ${id}`), id));
        broken.add(id);
      } else if (i % 500 === 13) {
        nextServices.push(svc(id, { port: 10000 + i, enabled: false }, file, line)); // off on purpose
      } else {
        nextServices.push(svc(id, { port: 10000 + i, instances: 5 }, file, line));
      }
    }
    const m = mergeReload(cur, table(nextServices, diagnostics, files), exists);
    assert.deepEqual(ids(m.kept.map((k) => k.service)), [...broken].sort());
    for (const k of m.kept) assert.match(k.why, new RegExp(`(bad value in|clash of) ${k.service.id}\\b`));
    assert.equal(m.serve.length, 3000 - 6); // all but the ones off on purpose
    m.table.services.forEach((s, i) => {
      assert.equal(s.id, `s${i}`);
      assert.equal(s === cur[i], broken.has(s.id));
    });
  });
});

describe('reinstate', () => {
  test('services refused while preparing get their current definition back', () => {
    const curA = svc('a');
    const newA = svc('a', { only_from: ['bad'] });
    const newB = svc('b');
    const newC = svc('c', { only_from: ['bad'] });
    const r = reinstate([curA], [newA, newB, newC], [newB], 'its new access lists cannot be used');
    assert.deepEqual(r.serve, [curA, newB]);
    assert.deepEqual(r.kept, [{ service: curA, why: 'its new access lists cannot be used' }]);
  });
});

describe('mergeReload: tables the loader makes of broken edits', () => {
  const block = (name: string, port: number, extra: string[] = []): string =>
    `service ${name}\n{\n\ttype = UNLISTED\n\tport = ${port}\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\tserver = /bin/cat\n${extra.map((l) => `\t${l}\n`).join('')}}\n`;

  test('bad value, missing program, unknown user, swallowed block: kept; disable = yes and deletion: removed', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsinetd-reload-unit-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const conf = join(dir, 'xinetd.conf');
    const names = ['badvalue', 'noprog', 'nouser', 'swallowed', 'disabled', 'deleted', 'fine'];
    writeFileSync(conf, names.map((n, i) => block(n, 41000 + i)).join('\n'));
    const before = await loadConfig({ configFile: conf, inetdFiles: [] }, { ...AS_ROOT });
    assert.deepEqual(
      before.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    const current = before.services;

    writeFileSync(
      conf,
      [
        block('badvalue', 41000, ['instances = lots']),
        block('noprog', 41001, ['server = /nonexistent/tsinetd-test']).replace('\tserver = /bin/cat\n', ''),
        block('nouser', 41002).replace('user = root', 'user = no-such-user-tsinetd'),
        block('swallowed', 41003, ['log_type=FILE /tmp/x']),
        block('disabled', 41004, ['disable = yes']),
        block('fine', 41006, ['instances = 4']),
      ].join('\n'),
    );
    const next = await loadConfig({ configFile: conf, inetdFiles: [] }, { ...AS_ROOT });
    const m = mergeReload(current, next, { fileExists: () => true });
    assert.deepEqual(m.kept.map((k) => k.service.id).sort(), ['badvalue', 'noprog', 'nouser', 'swallowed']);
    for (const k of m.kept) assert.match(k.why, new RegExp(`^${conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: error: `), k.why);
    assert.deepEqual(ids(m.serve), ['badvalue', 'fine', 'noprog', 'nouser', 'swallowed']);
    assert.equal(m.serve.find((s) => s.id === 'fine')?.instances, 4);
    const p = planReload(current, m.serve);
    assert.deepEqual(ids(p.remove), ['deleted', 'disabled']);
    assert.deepEqual(ids(p.keep), ['badvalue', 'fine', 'noprog', 'nouser', 'swallowed']);
  });
});

describe('a port clash on a reload: what is bound already binds first (keepsSockets)', () => {
  const block = (name: string, port: number): string =>
    `service ${name}\n{\n\ttype = UNLISTED\n\tport = ${port}\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\tserver = /bin/cat\n}\n`;

  test('the served service keeps its port against a new one written before it; at start the file order decides', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsinetd-reload-clash-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const conf = join(dir, 'xinetd.conf');
    writeFileSync(conf, block('old', 41100));
    const current = (await loadConfig({ configFile: conf, inetdFiles: [] }, { ...AS_ROOT })).services;
    writeFileSync(conf, block('new', 41100) + block('old', 41100));
    const enabled = (tbl: ServiceTable): string[] => tbl.services.filter((s) => s.enabled).map((s) => s.id);
    const clashes = (tbl: ServiceTable): string[] => tbl.diagnostics.filter((d) => d.code === 'port-clash').map((d) => `${d.line}: ${d.message}`);

    const atStart = await loadConfig({ configFile: conf, inetdFiles: [] }, { ...AS_ROOT });
    assert.deepEqual(enabled(atStart), ['new']);
    assert.equal(clashes(atStart).length, 1);
    assert.match(clashes(atStart)[0]!, /^11: port 41100\/tcp on all addresses is already used by service 'new'/);

    const kept = keepsSockets(current);
    const onReload = await loadConfig({ configFile: conf, inetdFiles: [], boundFirst: kept }, { ...AS_ROOT });
    assert.deepEqual(enabled(onReload), ['old']);
    assert.equal(clashes(onReload).length, 1);
    assert.match(clashes(onReload)[0]!, /^1: port 41100\/tcp on all addresses is already used by service 'old'/);
    // A service served now but moved to other sockets is not bound there yet.
    assert.equal(kept({ ...current[0]!, port: 41101 }), false);
    assert.equal(kept(current[0]!), true);
  });
});
