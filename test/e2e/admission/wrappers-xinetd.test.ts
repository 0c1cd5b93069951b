// TCP wrappers side by side with the real xinetd (Debian's build, linked with libwrap): both
// daemons read the same scratch hosts.allow and hosts.deny (xinetd through bind mounts over
// /etc/hosts.allow and /etc/hosts.deny inside its own mount namespace: the machine's files are
// never touched; tsinetd through --hosts-allow/--hosts-deny). The files are rewritten in place
// between cases (both daemons read them on every connection). For each case, clients bound to
// 127.0.0.1 and 127.0.0.2 must read the same thing from both daemons, and the FAIL lines and
// "libwrap refused" lines must be the same. Skipped without the unpacked xinetd or unshare.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { internalService, programService, renderConfig, startDaemon, TEST_USER } from '../../helpers/daemon.js';
import { freePort, tcpRequest } from '../../helpers/net.js';
import { noMountNamespace, noXinetd, XINETD } from '../../helpers/xinetd.js';

// Needs a private mount namespace: xinetd gets its own /etc/hosts.allow and /etc/hosts.deny there.
const skip = noXinetd || noMountNamespace();

/**
 * [hosts.allow, hosts.deny]. The twist case comes first, before xinetd has checked any client
 * of its in-process daytime: libwrap counts its calls per process, and once xinetd's own
 * process has made one, every forked child counts as "resident" and refuses twist ("twist
 * option in resident process"). tsinetd runs twist whenever it matches (tsinetd.conf(5)).
 */
const CASES: [string, string][] = [
  ['srv.sh: 127.0.0.2: twist /bin/echo twisted %a %d\n', ''],
  ['srv.sh: 127.0.0.1\n', 'ALL: ALL\n'],
  ['', 'ALL: ALL EXCEPT 127.0.0.1\n'],
  ['', 'ALL: ALL EXCEPT 127.0.0. EXCEPT 127.0.0.2\n'],
  ['', 'ALL: 127.0.0.0/255.255.255.0\n'],
  ['', 'ALL: 127.0.0.1/24\n'],
  ['', 'ALL: 127.0.0.2/32\n'],
  ['', 'daytime: 127.0.0.2\n'],
  ['', 'daytime-stream: ALL\n'],
  ['', '# nothing to deny'],
  ['ALL: 127.0.0.2: DENY\nALL: ALL: ALLOW\n', 'ALL: ALL\n'],
  ['ALL: 127.0.0.2: bogus\n', ''],
  ['', 'srv.sh@127.0.0.1: 127.0.0.2\n'],
  ['', 'ALL: [::ffff:127.0.0.2]\n'],
  ['', 'ALL: 127.0.0.*\n'],
  ['', 'ALL: 127.0.0.?\n'],
  ['', '   # ALL: 127.0.0.2\n'],
  ['', 'ALL EXCEPT srv.sh: ALL\n'],
  ['', 'srv.sh: ALL\\\n EXCEPT 127.0.0.1\n'],
  ['srv.sh: 127.0.0.2: setenv X y : deny\n', ''],
];

function stamp(line: string): string {
  // "YY/M/D@HH:MM:SS: FAIL: ..." (service log) or "... xinetd[pid]: INFO: ..." (daemon log).
  return line.replace(/^\d+\/\d+\/\d+@\d+:\d+:\d+:? /, '').replace(/^(xinetd|tsinetd)\[\d+\]: /, '');
}

async function read(port: number, local: string): Promise<string> {
  const r = await tcpRequest({ port, localAddress: local, timeoutMs: 5000 });
  return r.data.toString();
}

test('TCP wrappers: decisions and log lines as the real xinetd', { skip, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-wrap-xinetd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const allow = join(dir, 'hosts.allow');
  const deny = join(dir, 'hosts.deny');
  writeFileSync(allow, '');
  writeFileSync(deny, '');
  const srv = join(dir, 'srv.sh');
  writeFileSync(srv, '#!/bin/sh\necho ok\n');
  chmodSync(srv, 0o755);

  const [xExt, xDay, tExt, tDay] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // cps high enough for the test's own rate of connections (xinetd's default is 50 per second).
  const services = (ext: number, day: number) => [
    programService('ext', ext, srv, { user: TEST_USER, cps: '1000 1' }),
    internalService('daytime', day, 'stream', { cps: '1000 1' }),
  ];
  const xLog = join(dir, 'xinetd-services.log');
  const xDaemonLog = join(dir, 'xinetd.log');
  const defaults = { log_type: `FILE ${xLog}`, log_on_success: 'PID HOST', log_on_failure: 'HOST' };
  const xConf = join(dir, 'xinetd.conf');
  writeFileSync(xConf, renderConfig(services(xExt, xDay), defaults));
  const mountAndRun = `mount --bind ${allow} /etc/hosts.allow && mount --bind ${deny} /etc/hosts.deny && exec ${XINETD} -dontfork -f ${xConf} -filelog ${xDaemonLog}`;
  const xinetd = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', mountAndRun], { stdio: 'ignore' });
  t.after(() => xinetd.kill('SIGKILL'));
  const deadline = Date.now() + 10_000;
  while (!(existsSync(xDaemonLog) && /Started working: 2 available/.test(readFileSync(xDaemonLog, 'utf8')))) {
    assert.ok(Date.now() < deadline && xinetd.exitCode === null, `xinetd did not start: ${existsSync(xDaemonLog) ? readFileSync(xDaemonLog, 'utf8') : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const d = await startDaemon(t, {
    services: services(tExt, tDay),
    defaults: { log_on_success: 'PID HOST', log_on_failure: 'HOST' },
    args: ['--hosts-allow', allow, '--hosts-deny', deny],
  });

  const mismatches: string[] = [];
  let agreed = 0;
  for (const [a, dn] of CASES) {
    writeFileSync(allow, a);
    writeFileSync(deny, dn);
    // The forking service first: see the note on twist at CASES.
    for (const local of ['127.0.0.1', '127.0.0.2']) {
      const [xe, te] = [await read(xExt, local), await read(tExt, local)];
      if (xe !== te)
        mismatches.push(`allow ${JSON.stringify(a)} deny ${JSON.stringify(dn)} ext from ${local}: xinetd ${JSON.stringify(xe)}, tsinetd ${JSON.stringify(te)}`);
      else agreed++;
    }
    for (const local of ['127.0.0.1', '127.0.0.2']) {
      const [xd, td] = [(await read(xDay, local)) !== '', (await read(tDay, local)) !== ''];
      if (xd !== td) mismatches.push(`allow ${JSON.stringify(a)} deny ${JSON.stringify(dn)} daytime from ${local}: xinetd ${xd}, tsinetd ${td}`);
      else agreed++;
    }
  }
  assert.deepEqual(mismatches, [], readFileSync(xLog, 'utf8') + readFileSync(xDaemonLog, 'utf8'));
  assert.equal(agreed, CASES.length * 4);

  // The same FAIL lines and "libwrap refused" lines (each distinct line: tsinetd writes at most
  // 5 FAIL lines in a row for one client and reason, then one a second, tsinetd.log(5)).
  const lines = (text: string, re: RegExp) =>
    [
      ...new Set(
        text
          .split('\n')
          .filter((l) => re.test(l))
          .map(stamp),
      ),
    ].sort();
  const failRe = /FAIL: \S+ libwrap/;
  const refusedRe = /libwrap refused connection/;
  let ours: string[];
  let theirs: string[];
  const until = Date.now() + 5000;
  do {
    await new Promise((r) => setTimeout(r, 100));
    theirs = lines(readFileSync(xLog, 'utf8'), failRe);
    ours = lines(d.serviceLog(), failRe);
  } while (ours.length !== theirs.length && Date.now() < until);
  assert.deepEqual(ours, theirs);
  assert.equal(theirs.length, 4, `FAIL lines of both services from both clients: ${theirs.join(', ')}`);
  const refusals = (text: string) => lines(text, refusedRe).map((l) => l.replace(/^.*?(libwrap refused)/, '$1'));
  assert.deepEqual(refusals(d.daemonLog()), refusals(readFileSync(xDaemonLog, 'utf8')));
});
