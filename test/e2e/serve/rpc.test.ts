// RPC services with the real rpcbind, rpc.rstatd and rup (Debian's rpcbind, rstatd and
// rstat-client), in a private network and mount namespace (helpers/netns.ts: its own port 111 and
// /run/rpcbind.sock). One daemon serves an xinetd `type = RPC` service (rstatd over UDP, versions
// 1-3, the ones rpc.rstatd serves, wait = yes) and an inetd.conf `rstatd/3 stream rpc/tcp` entry. Checked with rpcinfo and
// rup: started before rpcbind, it says so once and registers when rpcbind comes; every version is
// registered at the port it serves on, and rup's call is served (START/EXIT lines); a restarted
// rpcbind gets the mappings again; a SIGHUP that removes the inetd.conf entry removes its
// mappings only; SIGTERM removes the rest. Skipped without root, the tools or the packages.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDaemon, TEST_USER } from '../../helpers/daemon.js';
import { waitFor, withTimeout } from '../../helpers/net.js';
import { noNetns, privateNetns, type Netns } from '../../helpers/netns.js';
import { tempDir } from '../../helpers/temp.js';

const RPCBIND = '/usr/sbin/rpcbind';
const RPCINFO = '/usr/sbin/rpcinfo';
/** .ci/run unpacks rstatd and rstat-client there (installing them would add inetd.conf lines). */
const first = (...paths: string[]): string => paths.find((p) => existsSync(p)) ?? paths[0] ?? '';
const RSTATD = first('/opt/rstatd-ref/usr/sbin/rpc.rstatd', '/usr/sbin/rpc.rstatd');
const RUP = first('/opt/rstatd-ref/usr/bin/rup', '/usr/bin/rup');

function why(): string | false {
  const ns = noNetns();
  if (ns !== false) return ns;
  for (const p of [RPCBIND, RPCINFO, RSTATD, RUP]) if (!existsSync(p)) return `${p} is not installed`;
  return false;
}
const skip = why();

/** rpcinfo -p's table as "PROGRAM VERSION PROTO PORT" lines for program 100001, or null when rpcbind does not answer. */
function rstatMappings(ns: Netns): string[] | null {
  const r = ns.run([RPCINFO, '-p', '127.0.0.1']);
  if (r.status !== 0) return null;
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] === '100001')
    .map((f) => f.slice(0, 4).join(' '))
    .sort();
}

/** The port rpcinfo -p gives for every line of `proto`, checking it is one port. */
function portOf(lines: readonly string[], proto: string): number {
  const ports = new Set(lines.filter((l) => l.split(' ')[2] === proto).map((l) => Number(l.split(' ')[3])));
  assert.equal(ports.size, 1, `one ${proto} port in ${lines.join(', ')}`);
  return [...ports][0] ?? 0;
}

test(
  'RPC services: registered with the real rpcbind, served to rpcinfo and rup, registered again after rpcbind restarts, removed by SIGHUP and SIGTERM',
  { skip, timeout: 120_000 },
  async (t) => {
    const ns = await privateNetns(t);
    const dir = tempDir(t, 'rpc');
    const inetdConf = join(dir, 'inetd.conf');
    writeFileSync(inetdConf, `rstatd/3\tstream\trpc/tcp\tnowait\t${TEST_USER}\t${RSTATD}\trpc.rstatd\n`);
    const d = await startDaemon(t, {
      services: [
        {
          name: 'rstatd',
          attrs: { id: 'rstat-udp', type: 'RPC', socket_type: 'dgram', protocol: 'udp', rpc_version: '1-3', wait: 'yes', user: TEST_USER, server: RSTATD },
        },
      ],
      args: ['--inetd', inetdConf],
      wrap: ns.enter,
      env: { ...process.env, TSINETD_BIND_RETRY_MS: '200', TSINETD_RPCBIND_CHECK_MS: '300' },
    });

    // No rpcbind yet: one line, and the daemon serves on.
    await d.waitForDaemonLog(
      /ERROR: rpcbind at \/run\/rpcbind\.sock cannot be reached \(ENOENT: .*\): RPC services are served but not registered; trying again in 0\.2 s/,
    );
    let rpcbind = ns.start([RPCBIND, '-f']);
    await d.waitForDaemonLog(/NOTICE: rpcbind at \/run\/rpcbind\.sock answers again after \d+ failed attempts?: 8 mappings registered/, 15_000);
    const four = (): string[] | undefined => {
      const m = rstatMappings(ns);
      return m !== null && m.length === 4 ? m : undefined;
    };
    const before = await waitFor(four, 5000, 'the four IPv4 mappings of program 100001');
    const udp = portOf(before, 'udp');
    const tcp = portOf(before, 'tcp');
    assert.deepEqual(before, [`100001 1 udp ${udp}`, `100001 2 udp ${udp}`, `100001 3 tcp ${tcp}`, `100001 3 udp ${udp}`].sort());
    assert.equal(d.daemonLog().match(/cannot be reached/g)?.length, 1, 'said once, however many attempts');

    // The real client first: rup asks rpcbind for the udp port, then rstatd, which tsinetd starts
    // on the datagram (xinetd's default socket is dual-stack: the peer is written ::ffff:127.0.0.1).
    const rup = ns.run([RUP, '127.0.0.1'], 20_000);
    assert.equal(rup.status, 0, rup.stderr);
    assert.match(rup.stdout, /up .*load \d+\.\d+/);
    // The Node spawner cannot learn a wait = yes datagram's sender (udp-wait-sender.test.ts): no from= then.
    const from = process.env['TSINETD_SPAWNER'] === 'node' ? '' : ' from=::ffff:127\\.0\\.0\\.1';
    await d.waitForServiceLog(new RegExp(`START: rstat-udp pid=\\d+${from}$`));
    await d.waitForServiceLog(/EXIT: rstat-udp status=0 pid=\d+ duration=\d+\(sec\)$/, 10_000);

    // Each version answers where it is registered (rpcinfo calls procedure 0); IPv6 too, where the socket serves it.
    for (const v of ['1', '2', '3'])
      assert.match(ns.run([RPCINFO, '-u', '127.0.0.1', '100001', v]).stdout, new RegExp(`program 100001 version ${v} ready and waiting`));
    assert.match(ns.run([RPCINFO, '-t', '127.0.0.1', '100001', '3']).stdout, /program 100001 version 3 ready and waiting/);
    await d.waitForServiceLog(/START: rstatd pid=\d+ from=127\.0\.0\.1$/);
    assert.match(ns.run([RPCINFO, '-T', 'udp6', '::1', '100001', '3']).stdout, /program 100001 version 3 ready and waiting/);
    assert.match(ns.run([RPCINFO, '-T', 'tcp6', '::1', '100001', '3']).stdout, /program 100001 version 3 ready and waiting/);

    // The state dump says what is registered, at the ports rpcbind gives.
    d.signal('SIGUSR1');
    const dump = await waitFor(() => (existsSync(d.dumpFile) ? readFileSync(d.dumpFile, 'utf8') : undefined), 5000, 'the state dump');
    const p = (port: number): string => `${port >> 8}.${port & 0xff}`;
    assert.ok(dump.includes(`RPC registered = v1 udp 0.0.0.0.${p(udp)}, v1 udp6 ::.${p(udp)}, v2 udp 0.0.0.0.${p(udp)}`), dump);
    assert.ok(dump.includes(`RPC registered = v3 tcp 0.0.0.0.${p(tcp)}`), dump);

    // rpcbind restarted: it has forgotten everything; the next check registers it all again.
    rpcbind.kill('SIGTERM');
    await withTimeout(new Promise((r) => rpcbind.once('exit', r)), 5000, 'rpcbind to exit');
    rpcbind = ns.start([RPCBIND, '-f']);
    await d.waitForDaemonLog(/NOTICE: rpcbind at \/run\/rpcbind\.sock lost 8 mappings \(restarted\?\): registering rstat-udp, rstatd again/, 15_000);
    assert.deepEqual(await waitFor(four, 5000, 'the mappings again'), before, 'the same ports: the sockets were never closed');

    // A reload that drops the inetd.conf entry removes its mapping, and only its.
    writeFileSync(inetdConf, '');
    d.signal('SIGHUP');
    await waitFor(() => (rstatMappings(ns)?.length === 3 ? true : undefined), 10_000, 'the tcp mapping to go');
    assert.deepEqual(rstatMappings(ns), [`100001 1 udp ${udp}`, `100001 2 udp ${udp}`, `100001 3 udp ${udp}`]);

    // Stopping removes the rest; rpcbind's own mappings stay.
    await d.stop('SIGTERM');
    assert.deepEqual(rstatMappings(ns), []);
    assert.match(ns.run([RPCINFO, '-p', '127.0.0.1']).stdout, /100000\s+2\s+udp\s+111\s+portmapper/);
  },
);
