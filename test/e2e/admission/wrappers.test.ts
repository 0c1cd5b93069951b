// TCP wrappers through the real daemon: hosts.allow / hosts.deny decide after only_from, an
// edit applies to the next client without a reload, the daemon name follows xinetd's rules,
// and the options that act on the connection (twist, spawn, banners) run outside the daemon.
// Clients bound to 127.0.0.1 and 127.0.0.2 act as two hosts. Every case runs with the helper
// accepting (the default) and with the daemon accepting (TSINETD_HELPER_ACCEPT=0).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { internalService, programService, startDaemon, type RunningDaemon } from '../../helpers/daemon.js';
import { freePort, tcpRequest, waitFor } from '../../helpers/net.js';
import { startIdentd } from '../../helpers/identd.js';

const MODES = [
  { name: 'helper accepts', env: { ...process.env } },
  { name: 'daemon accepts', env: { ...process.env, TSINETD_HELPER_ACCEPT: '0' } },
];

/** What a client at `local` reads before the server closes. */
async function reply(port: number, local: string): Promise<string> {
  const r = await tcpRequest({ port, localAddress: local, timeoutMs: 5000 });
  return r.data.toString();
}

/** A daemon serving one program `srv.sh` (prints ok) on a fresh port, with these rule files. */
async function wrapped(
  t: TestContext,
  env: NodeJS.ProcessEnv,
  rules: { allow?: string; deny?: string },
  extra: Record<string, string> = {},
): Promise<{ d: RunningDaemon; port: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-wrap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const srv = join(dir, 'srv.sh');
  writeFileSync(srv, '#!/bin/sh\necho ok\n');
  chmodSync(srv, 0o755);
  if (rules.allow !== undefined) writeFileSync(join(dir, 'hosts.allow'), rules.allow);
  if (rules.deny !== undefined) writeFileSync(join(dir, 'hosts.deny'), rules.deny);
  const port = await freePort();
  const d = await startDaemon(t, {
    services: [programService('ext', port, srv, extra)],
    env,
    args: ['--hosts-allow', join(dir, 'hosts.allow'), '--hosts-deny', join(dir, 'hosts.deny')],
  });
  return { d, port, dir };
}

for (const mode of MODES) {
  test(`${mode.name}: hosts.allow grants, hosts.deny refuses, with xinetd's log lines`, async (t) => {
    const { d, port } = await wrapped(t, mode.env, { allow: 'srv.sh: 127.0.0.1\n', deny: 'ALL: ALL\n' });
    assert.equal(await reply(port, '127.0.0.1'), 'ok\n');
    assert.equal(await reply(port, '127.0.0.2'), '');
    await d.waitForServiceLog(/FAIL: ext libwrap from=::ffff:127\.0\.0\.2/);
    await d.waitForDaemonLog(/libwrap refused connection to ext \(libwrap=srv\.sh\) from ::ffff:127\.0\.0\.2/);
    assert.doesNotMatch(d.serviceLog(), /FAIL: ext libwrap from=::ffff:127\.0\.0\.1\b/);
  });

  test(`${mode.name}: an edit of hosts.deny applies to the next client, without a reload`, async (t) => {
    const { port, dir } = await wrapped(t, mode.env, {});
    assert.equal(await reply(port, '127.0.0.2'), 'ok\n');
    writeFileSync(join(dir, 'hosts.deny'), 'ALL: 127.0.0.2\n');
    assert.equal(await reply(port, '127.0.0.2'), '');
    assert.equal(await reply(port, '127.0.0.1'), 'ok\n');
    writeFileSync(join(dir, 'hosts.deny'), '# nothing\n');
    assert.equal(await reply(port, '127.0.0.2'), 'ok\n');
  });

  test(`${mode.name}: twist runs in the server's place; spawn runs before the server`, async (t) => {
    const marker = join(tmpdir(), `tsinetd-wrap-spawn-${process.pid}-${mode.name.replace(/ /g, '-')}`);
    t.after(() => rmSync(marker, { force: true }));
    const { d, port } = await wrapped(t, mode.env, {
      allow: `srv.sh: 127.0.0.2: twist /bin/echo twisted %a %d\nsrv.sh: 127.0.0.1: spawn /bin/sh -c "echo %a > ${marker}" : allow\n`,
    });
    assert.equal(await reply(port, '127.0.0.2'), 'twisted ::ffff:127.0.0.2 srv.sh\n');
    assert.equal(await reply(port, '127.0.0.1'), 'ok\n');
    assert.equal(readFileSync(marker, 'utf8'), '::ffff:127.0.0.1\n');
    await d.waitForDaemonLog(/twist ::ffff:127\.0\.0\.2 to \/bin\/echo twisted ::ffff:127\.0\.0\.2 srv\.sh/);
    assert.doesNotMatch(d.serviceLog(), /FAIL: ext/);
    assert.match(d.serviceLog(), /START: ext pid=\d+ from=::ffff:127\.0\.0\.2/);
  });

  test(`${mode.name}: a hosts.deny without its final newline refuses everyone, and says so once`, async (t) => {
    const { d, port } = await wrapped(t, mode.env, { deny: '# nothing to deny' });
    assert.equal(await reply(port, '127.0.0.1'), '');
    assert.equal(await reply(port, '127.0.0.1'), '');
    await waitFor(() => ((d.serviceLog().match(/FAIL: ext libwrap from=::ffff:127\.0\.0\.1/g) ?? []).length === 2 ? true : undefined), 5000, 'two FAIL lines');
    const warnings = d.daemonLog().match(/hosts\.deny, line 1: .*missing newline/g) ?? [];
    assert.equal(warnings.length, 1, d.daemonLog());
  });
}

test('flags = NOLIBWRAP and `libwrap = NAME`', async (t) => {
  const { d, port, dir } = await wrapped(t, process.env, { deny: 'srv.sh: ALL\nother: 127.0.0.2\n' }, { flags: 'NOLIBWRAP' });
  assert.equal(await reply(port, '127.0.0.2'), 'ok\n');
  d.rewrite([programService('ext', port, join(dir, 'srv.sh'), { libwrap: 'other' })]);
  d.signal('SIGHUP');
  await waitFor(async () => ((await reply(port, '127.0.0.2')) === '' ? true : undefined), 5000, 'the libwrap name to apply after the reload');
  assert.equal(await reply(port, '127.0.0.1'), 'ok\n');
});

test('internal services are matched by their service name, not their id', async (t) => {
  const port = await freePort();
  const d = await startDaemon(t, { services: [internalService('daytime', port, 'stream')] });
  // startDaemon points --hosts-allow/--hosts-deny at files in the daemon's directory.
  writeFileSync(join(d.dir, 'hosts.deny'), 'daytime-stream: ALL\n');
  assert.notEqual(await reply(port, '127.0.0.2'), '');
  writeFileSync(join(d.dir, 'hosts.deny'), 'daytime: 127.0.0.2\n');
  assert.equal(await reply(port, '127.0.0.2'), '');
  assert.notEqual(await reply(port, '127.0.0.1'), '');
  await d.waitForServiceLog(/FAIL: daytime-stream libwrap from=::ffff:127\.0\.0\.2/);
});

test('only_from refuses first: a client it refuses is logged as `address`, not `libwrap`', async (t) => {
  const { d, port } = await wrapped(t, process.env, { deny: 'ALL: ALL\n' }, { only_from: '127.0.0.1' });
  assert.equal(await reply(port, '127.0.0.2'), '');
  assert.equal(await reply(port, '127.0.0.1'), '');
  await d.waitForServiceLog(/FAIL: ext address from=::ffff:127\.0\.0\.2/);
  await d.waitForServiceLog(/FAIL: ext libwrap from=::ffff:127\.0\.0\.1/);
});

test('banners DIR sends DIR/<daemon> first, LF as CRLF, with % expansions', async (t) => {
  const { port, dir } = await wrapped(t, process.env, {});
  mkdirSync(join(dir, 'banners'));
  writeFileSync(join(dir, 'banners', 'srv.sh'), 'hello %a\nbye\n');
  writeFileSync(join(dir, 'hosts.allow'), `ALL: ALL: banners ${join(dir, 'banners')}\n`);
  assert.equal(await reply(port, '127.0.0.2'), 'hello ::ffff:127.0.0.2\r\nbye\r\nok\n');
});

test('user@host asks the client identd; rfc931 gives %u to twist', async (t) => {
  const identd = await startIdentd(t, (q, answer) => {
    const [client, server] = q.split(',').map((x) => x.trim());
    answer(`${client} , ${server} : USERID : UNIX : ${client === undefined ? 'x' : 'alice'}\r\n`);
  });
  const { d, port, dir } = await wrapped(
    t,
    { ...process.env, TSINETD_HELPER_ACCEPT: '0', TSINETD_IDENT_PORT: String(identd.port) },
    {
      deny: 'srv.sh: bob@127.0.0.1\n',
    },
  );
  // alice is not bob: served, and her identd was asked.
  assert.equal(await reply(port, '127.0.0.1'), 'ok\n');
  assert.equal(identd.queries.length, 1);
  writeFileSync(join(dir, 'hosts.deny'), 'srv.sh: alice@127.0.0.1\n');
  assert.equal(await reply(port, '127.0.0.1'), '');
  await d.waitForServiceLog(/FAIL: ext libwrap from=::ffff:127\.0\.0\.1/);
  writeFileSync(join(dir, 'hosts.deny'), '');
  writeFileSync(join(dir, 'hosts.allow'), 'srv.sh: ALL: rfc931 2: twist /bin/echo user=%u\n');
  assert.equal(await reply(port, '127.0.0.1'), 'user=alice\n');
});

const asRoot = process.getuid?.() === 0 ? false : 'needs root (a service user other than the daemon)';

test("the rule files are read with the service user's rights, as xinetd's child reads them", { skip: asRoot }, async (t) => {
  // A directory everyone may search, rule files only root may read: libwrap in a `user = nobody`
  // child cannot open hosts.deny, and refuses (xinetd 2.3.15.3: FAIL libwrap, measured).
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-wrap-user-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const deny = join(dir, 'hosts.deny');
  writeFileSync(deny, '# nothing to deny\n');
  chmodSync(deny, 0o600);
  const port = await freePort();
  const d = await startDaemon(t, {
    services: [programService('ext', port, '/bin/echo', { user: 'nobody', server_args: 'ok' })],
    args: ['--hosts-allow', join(dir, 'hosts.allow'), '--hosts-deny', deny],
  });
  assert.equal(await reply(port, '127.0.0.1'), '');
  await d.waitForServiceLog(/FAIL: ext libwrap from=::ffff:127\.0\.0\.1/);
  await d.waitForDaemonLog(/cannot open .*hosts\.deny: Permission denied/);
  chmodSync(deny, 0o644);
  assert.equal(await reply(port, '127.0.0.1'), 'ok\n');
  // A directory the user may not search hides the file just as well.
  chmodSync(dir, 0o700);
  writeFileSync(deny, '# changed\n');
  assert.equal(await reply(port, '127.0.0.1'), '');
});
