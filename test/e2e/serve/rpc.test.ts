// RPC services with the real rpcbind, rpc.rstatd and rup (Debian's rpcbind, rstatd and
// rstat-client), in a private network and mount namespace (helpers/netns.ts: its own port 111 and
// /run/rpcbind.sock). One daemon serves an xinetd `type = RPC` service (rstatd over UDP, versions
// 1-3, the ones rpc.rstatd serves, wait = yes) and an inetd.conf `rstatd/3 stream rpc/tcp` entry. Checked with rpcinfo and
// rup: started before rpcbind, it says so once and registers when rpcbind comes; every version is
// registered at the port it serves on, and rup's call is served (START/EXIT lines); a restarted
// rpcbind gets the mappings again; a SIGHUP that removes the inetd.conf entry removes its
// mappings only, and one that narrows rpc_version keeps the port; SIGTERM removes the rest. Skipped without root, the tools or the packages.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDaemon, TEST_USER, type ServiceDef } from '../../helpers/daemon.js';
import { waitFor, withTimeout } from '../../helpers/net.js';
import { noNetns, privateNetns } from '../../helpers/netns.js';
import { noRpcTools, RPCBIND, RPCINFO, rpcMappings, RSTATD, RUP } from '../../helpers/rpc.js';
import { tempDir } from '../../helpers/temp.js';

function why(): string | false {
  return noNetns() || noRpcTools();
}
const skip = why();

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
    const rstatUdp = (versions: string): ServiceDef => ({
      name: 'rstatd',
      attrs: { id: 'rstat-udp', type: 'RPC', socket_type: 'dgram', protocol: 'udp', rpc_version: versions, wait: 'yes', user: TEST_USER, server: RSTATD },
    });
    const d = await startDaemon(t, {
      services: [rstatUdp('1-3')],
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
      const m = rpcMappings(ns);
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

    // A reload that drops the inetd.conf entry removes its mapping, and only its; one that changes
    // rpc_version keeps the socket and its port (as xinetd's readjust_rpc_service) and registers again.
    writeFileSync(inetdConf, '');
    d.rewrite([rstatUdp('1-2')]);
    d.signal('SIGHUP');
    await waitFor(() => (rpcMappings(ns)?.length === 2 ? true : undefined), 10_000, 'the tcp mapping and version 3 to go');
    assert.deepEqual(rpcMappings(ns), [`100001 1 udp ${udp}`, `100001 2 udp ${udp}`]);
    await d.waitForDaemonLog(/NOTICE: readjusting service rstat-udp$/m);

    // Stopping removes the rest; rpcbind's own mappings stay.
    await d.stop('SIGTERM');
    assert.deepEqual(rpcMappings(ns), []);
    assert.match(ns.run([RPCINFO, '-p', '127.0.0.1']).stdout, /100000\s+2\s+udp\s+111\s+portmapper/);
  },
);
