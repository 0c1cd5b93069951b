// `tsinetd --explain SERVICE ADDRESS`: the real command on a real configuration. The TCP
// wrappers step agrees with tcpdmatch (Debian's tcpd) on the same rule files; the other steps
// name what decided; exit status 0 admitted, 1 refused, 2 usage. And fail2ban's stock
// xinetd-fail filter finds the address in the FAIL lines of libwrap refusals.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { have, programService, renderConfig, runCli, startDaemon } from '../../helpers/daemon.js';
import { freePort, tcpRequest, waitFor } from '../../helpers/net.js';

const TCPDMATCH = '/usr/sbin/tcpdmatch';
const noTcpdmatch = existsSync(TCPDMATCH) ? false : 'tcpdmatch (Debian package tcpd) is not installed';

interface Setup {
  dir: string;
  conf: string;
  args: string[];
}

function setup(t: TestContext, extra: Record<string, string> = {}): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-explain-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const srv = join(dir, 'in.tftpd');
  writeFileSync(srv, '#!/bin/sh\necho ok\n');
  chmodSync(srv, 0o755);
  const conf = join(dir, 'xinetd.conf');
  writeFileSync(conf, renderConfig([programService('ext', 17999, srv, extra)], {}));
  return { dir, conf, args: ['-f', conf, '--hosts-allow', join(dir, 'hosts.allow'), '--hosts-deny', join(dir, 'hosts.deny')] };
}

function tcpdmatch(dir: string, daemon: string, client: string): 'granted' | 'denied' | 'delegated' {
  const r = spawnSync(TCPDMATCH, ['-d', daemon, client], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  const m = /^access:\s+(granted|denied|delegated)/.exec(last);
  assert.ok(m !== null, `tcpdmatch said: ${r.stdout}${r.stderr}`);
  return m[1] as 'granted' | 'denied' | 'delegated';
}

const RULES: [string, string][] = [
  ['in.tftpd: 127.0.0.1\n', 'ALL: ALL\n'],
  ['', 'ALL: ALL EXCEPT 127.0.0.1\n'],
  ['', 'in.tftpd: 127.0.0.0/255.255.255.0\n'],
  ['', 'ALL: 127.0.0.1/24\n'],
  ['', 'ALL EXCEPT in.tftpd: ALL\n'],
  ['', 'in.: 127.0.0.2\n'],
  ['ALL: 127.0.0.2: DENY\nALL: ALL: ALLOW\n', 'ALL: ALL\n'],
  ['ALL: ALL: bogus\n', ''],
  ['', '# nothing to deny'],
  ['ALL: 127.0.0.2: twist /bin/echo 421\n', ''],
  ['', 'in.tftpd: [::1]/128\n'],
  ['', 'ALL: 127.0.0.*\n'],
];

test('--explain: the TCP wrappers verdict agrees with tcpdmatch', { skip: noTcpdmatch, timeout: 120_000 }, async (t) => {
  const s = setup(t, { flags: 'IPv4' });
  const disagreements: string[] = [];
  let checked = 0;
  for (const [allow, deny] of RULES) {
    writeFileSync(join(s.dir, 'hosts.allow'), allow);
    writeFileSync(join(s.dir, 'hosts.deny'), deny);
    for (const client of ['127.0.0.1', '127.0.0.2', '::1']) {
      const r = await runCli([...s.args, '--explain', 'ext', client, '--json']);
      assert.notEqual(r.code, 2, r.stderr);
      const e = JSON.parse(r.stdout) as { verdict: { admitted: boolean }; steps: { check: string; outcome: string }[] };
      const step = e.steps.find((x) => x.check === 'TCP wrappers');
      assert.ok(step !== undefined);
      // tcpdmatch's "delegated" (twist) is a grant whose command replaces the server.
      const oracle = tcpdmatch(s.dir, 'in.tftpd', client);
      const ours = step.outcome === 'pass' ? 'granted' : 'denied';
      if ((oracle === 'delegated' ? 'granted' : oracle) !== ours)
        disagreements.push(`${JSON.stringify([allow, deny])} ${client}: tcpdmatch ${oracle}, tsinetd ${ours}`);
      assert.equal(e.verdict.admitted, ours === 'granted');
      assert.equal(r.code, ours === 'granted' ? 0 : 1);
      checked++;
    }
  }
  assert.deepEqual(disagreements, []);
  assert.equal(checked, RULES.length * 3);
});

test('--explain: names the step and the rule that decided', async (t) => {
  const s = setup(t, { only_from: '127.0.0.0/8', no_access: '127.0.0.3' });
  writeFileSync(join(s.dir, 'hosts.allow'), '# allow\nin.tftpd: 127.0.0.1\n');
  writeFileSync(join(s.dir, 'hosts.deny'), 'ALL: ALL\n');
  const ok = await runCli([...s.args, '--explain', 'ext', '127.0.0.1']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /TCP wrappers: pass: daemon in\.tftpd: .*hosts\.allow line 2 matched: granted \[.*hosts\.allow:2:1\]/);
  assert.match(ok.stdout, /^verdict: admitted$/m);
  const no = await runCli([...s.args, '--explain', 'ext', '127.0.0.2']);
  assert.equal(no.code, 1);
  assert.match(no.stdout, /TCP wrappers: refuse: .*hosts\.deny line 1 matched: denied/);
  assert.match(no.stdout, /^verdict: refused \(libwrap\): libwrap refused connection to ext \(libwrap=in\.tftpd\) from ::ffff:127\.0\.0\.2$/m);
  const addr = await runCli([...s.args, '--explain', 'ext', '127.0.0.3']);
  assert.equal(addr.code, 1);
  assert.match(addr.stdout, /only_from \/ no_access: refuse: on both lists/);
  assert.match(addr.stdout, /^verdict: refused \(address\)/m);
  const unknown = await runCli([...s.args, '--explain', 'nosuch', '127.0.0.1']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no service 'nosuch'/);
  const usage = await runCli([...s.args, '--explain', 'ext']);
  assert.equal(usage.code, 2);
});

test("--explain on a unix-domain service: the client has no address, whatever ADDRESS says; the verdict is the daemon's", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-explain-unix-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [sock, gone] = [join(dir, 'a.sock'), join(dir, 'b.sock')];
  const conf = join(dir, 'inetd.conf');
  writeFileSync(conf, `${sock}\tstream\tunix\tnowait\troot\t/bin/echo\techo hi\n${gone}\tstream\tunix\tnowait\troot\t${join(dir, 'absent')}\tabsent\n`);
  const args = ['--inetd', conf, '--dialect', 'openbsd'];
  for (const address of ['-', '127.0.0.2']) {
    const r = await runCli([...args, '--explain', sock, address]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /client a unix-domain client \(no address\)/);
    assert.match(r.stdout, /TCP wrappers: not applicable: not applied to inetd\.conf services/);
    assert.match(r.stdout, /^verdict: admitted$/m);
  }
  const json = await runCli([...args, '--explain', sock, '-', '--json']);
  assert.equal((JSON.parse(json.stdout) as { client: string }).client, 'a unix-domain client (no address)');
  const notRunning = await runCli([...args, '--explain', gone, '-']);
  assert.equal(notRunning.code, 1);
  assert.match(notRunning.stdout, /^verdict: refused \(not running\)/m);
});

test('--check reads the rule files: never-matching patterns and a missing final newline, located', async (t) => {
  const s = setup(t);
  writeFileSync(join(s.dir, 'hosts.allow'), 'ALL: 127.0.0.1/24\n');
  writeFileSync(join(s.dir, 'hosts.deny'), 'ALL: ALL');
  const r = await runCli([...s.args, '--check']);
  assert.match(r.stderr, /hosts\.allow:1:6: \w+: .*127\.0\.0\.1\/24/);
  assert.match(r.stderr, /hosts\.deny:1:\d+: error: .*newline/);
  assert.equal(r.code, 1);
});

const F2B_FILTER = '/etc/fail2ban/filter.d/xinetd-fail.conf';
const noFail2ban = have('fail2ban-regex') && existsSync(F2B_FILTER) ? false : 'fail2ban-regex with its stock xinetd-fail filter is not installed';

test('fail2ban-regex finds the address in libwrap FAIL lines', { skip: noFail2ban, timeout: 60_000 }, async (t) => {
  const port = await freePort();
  const d = await startDaemon(t, { services: [programService('ext', port, '/bin/echo', { server_args: 'ok' })] });
  writeFileSync(join(d.dir, 'hosts.deny'), 'echo: 127.0.0.2\n');
  for (let i = 0; i < 3; i++) await tcpRequest({ port, localAddress: '127.0.0.2' });
  await waitFor(() => ((d.serviceLog().match(/FAIL: ext libwrap/g) ?? []).length === 3 ? true : undefined), 5000, '3 FAIL lines');
  const r = spawnSync('fail2ban-regex', ['-o', 'row', '-d', '^%y/%m/%d@%H:%M:%S', d.serviceLogPath, F2B_FILTER], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('['));
  assert.equal(rows.length, 3, r.stdout);
  for (const row of rows) assert.match(row, /^\['(::ffff:)?127\.0\.0\.2'/);
});
