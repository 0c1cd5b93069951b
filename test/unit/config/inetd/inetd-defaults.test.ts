// What inetd.conf services take from the xinetd `defaults` loaded with them (xinetd's
// service_fill, confparse.c), through the real loader on temporary files.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadConfig } from '../../../../src/config/config.js';
import type { Service } from '../../../../src/table.js';

/** Loads `defaults { ... }` with an inetd.conf; `compat`: as the file -inetd_compat reads. */
async function load(
  t: TestContext,
  defaults: string[],
  inetd: string,
  opts: { compat?: boolean; dialect?: 'openbsd' | 'freebsd' } = {},
): Promise<Map<string, Service>> {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-inetd-defaults-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'xinetd.conf');
  writeFileSync(conf, `defaults\n{\n${defaults.map((l) => `\t${l}\n`).join('')}}\n`);
  const file = join(dir, 'inetd.conf');
  writeFileSync(file, inetd);
  const table = await loadConfig(
    { configFile: conf, inetdFiles: [file], inetdDialect: opts.dialect ?? 'openbsd', ...(opts.compat === true ? { inetdCompatFile: file } : {}) },
    { privileges: 'warn' },
  );
  return new Map(table.services.map((s) => [s.id, s]));
}

const LINE = 'ftp stream tcp nowait root /bin/cat cat\n';

test('log_type, log_on_success, log_on_failure, instances, per_source, umask, max_load, passenv come from defaults', async (t) => {
  const s = (
    await load(
      t,
      [
        'log_type = FILE /var/log/x.log',
        'log_on_success = PID HOST EXIT',
        'log_on_failure = HOST',
        'instances = 7',
        'per_source = 3',
        'umask = 027',
        'max_load = 2.5',
        'passenv = PATH',
      ],
      LINE,
    )
  ).get('ftp')!;
  assert.deepEqual(s.log_type, { kind: 'file', path: '/var/log/x.log', soft: null, hard: null });
  assert.deepEqual([s.log_on_success, s.log_on_failure], [['PID', 'HOST', 'EXIT'], ['HOST']]);
  assert.deepEqual([s.instances, s.per_source, s.umask, s.max_load, s.passenv], [7, 3, 0o27, 2.5, ['PATH']]);
});

test('not the access lists or banners (copied only when an xinetd entry starts); groups stays yes', async (t) => {
  const s = (await load(t, ['only_from = 127.0.0.2', 'no_access = 10.0.0.1', 'banner = /etc/issue', 'groups = no'], LINE)).get('ftp')!;
  assert.deepEqual([s.only_from, s.no_access, s.banner, s.groups], [null, null, null, true]);
});

test('what the line sets stays: a host: address, FreeBSD max-child and max-child-per-ip, the families', async (t) => {
  const def = ['bind = 127.0.0.2', 'instances = 7', 'per_source = 3', 'v6only = no'];
  const o = await load(
    t,
    def,
    `127.0.0.1:ftp stream tcp nowait root /bin/cat cat\n41001 stream tcp nowait root /bin/cat cat\n41002 stream tcp6 nowait root /bin/cat cat\n`,
  );
  assert.equal(o.get('ftp')!.bind, '127.0.0.1');
  // A line without a host takes the defaults' bind, as in xinetd.
  assert.equal(o.get('41001')!.bind, '127.0.0.2');
  assert.deepEqual([o.get('41002')!.v6only, o.get('41001')!.family_sockets], [true, true]);
  const f = (await load(t, def, 'ftp stream tcp nowait/4/0/2 root /bin/cat cat\n', { dialect: 'freebsd' })).get('ftp')!;
  assert.deepEqual([f.instances, f.per_source], [4, 2]);
});

test("cps: from defaults; else xinetd's implicit 50/10 for the -inetd_compat file only", async (t) => {
  assert.deepEqual((await load(t, ['cps = 5 7'], LINE)).get('ftp')!.cps, [5, 7]);
  assert.deepEqual((await load(t, ['cps = 5 7'], LINE, { compat: true })).get('ftp')!.cps, [5, 7]);
  assert.deepEqual((await load(t, ['instances = 2'], LINE, { compat: true })).get('ftp')!.cps, [50, 10]);
  assert.deepEqual((await load(t, ['instances = 2'], LINE)).get('ftp')!.cps, [0, 0]);
});
