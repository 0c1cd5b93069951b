// RPC services side by side: the real xinetd 2.3.15.3 and tsinetd on the same configuration, each
// in a private network and mount namespace with its own rpcbind (helpers/netns.ts), with the
// same hosts.deny refusing rpc.rstatd (bind-mounted at /etc/hosts.deny for xinetd, given by path
// to tsinetd). Compared, with the ports replaced by the order they appear in:
//   - two services asking for one program version over one transport: rpcbind's table (rpcinfo -p;
//     the first service gets the version, a later one the others, one left with none is not
//     served) and xinetd's "pmap_set failed" line;
//   - TCP wrappers: a call over UDP is refused (FAIL libwrap, libwrap's refusal line, no reply),
//     one over TCP is served (xinetd sets NOLIBWRAP for RPC over TCP when it opens the socket);
//   - a SIGHUP that changes rpc_version: the port stays, the versions are registered again; the
//     RPC service over TCP it keeps is wrapped from then on (its new definition is not activated);
//   - SIGTERM with an RPC server running: "Sending signal 9 to ... server", its mappings removed.
// xinetd sleeps a second after each version it registers, hence few versions. Skipped without
// root, the tools or the real xinetd.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { renderConfig, startDaemon, TEST_USER, type ServiceDef } from '../../helpers/daemon.js';
import { waitFor } from '../../helpers/net.js';
import { noNetns, privateNetns, type Netns } from '../../helpers/netns.js';
import { noRpcTools, RPCBIND, RPCINFO, rpcMappings, RSTATD } from '../../helpers/rpc.js';
import { tempDir } from '../../helpers/temp.js';
import { maskServiceLog, noXinetd, startXinetd } from '../../helpers/xinetd.js';

const skip = noNetns() || noRpcTools() || noXinetd;

/** An RPC service of rpc.rstatd (or, for registration only, of another program named `name`). */
const rpc = (name: string, id: string, transport: 'udp' | 'tcp', versions: string): ServiceDef => ({
  name,
  attrs: {
    id,
    type: 'RPC',
    socket_type: transport === 'udp' ? 'dgram' : 'stream',
    protocol: transport,
    rpc_version: versions,
    wait: transport === 'udp' ? 'yes' : 'no',
    user: TEST_USER,
    server: RSTATD,
  },
});

const services = (rusersVersions: string): ServiceDef[] => [
  rpc('rstatd', 'rstat-a', 'udp', '1'),
  rpc('rstatd', 'rstat-b', 'udp', '1-2'), // loses 1 to rstat-a, registers 2
  rpc('rstatd', 'rstat-c', 'udp', '2'), // loses 2 to rstat-b: nothing left, not served
  rpc('rstatd', 'rstat-t', 'tcp', '3'),
  rpc('rusersd', 'rusers-r', 'udp', rusersVersions), // 100002, for its registrations only
];

const PROGRAMS = ['100001', '100002'];

/** rpcinfo -p's lines with each port replaced by its rank of appearance (P1, P2...). */
function shape(lines: readonly string[]): string[] {
  const rank = new Map<string, string>();
  return lines.map((l) => {
    const f = l.split(' ');
    const port = f[3] ?? '';
    if (!rank.has(port)) rank.set(port, `P${rank.size + 1}`);
    return [...f.slice(0, 3), rank.get(port)].join(' ');
  });
}

/** The service log's lines without time stamps, pids and durations. */
const masked = maskServiceLog;

/** A namespace with its rpcbind answering, and scratch hosts files refusing rpc.rstatd. */
async function withRpcbind(t: TestContext, dir: string, tag: string): Promise<{ ns: Netns; allow: string; deny: string }> {
  const ns = await privateNetns(t);
  const [allow, deny] = [join(dir, `${tag}.hosts.allow`), join(dir, `${tag}.hosts.deny`)];
  writeFileSync(allow, '');
  writeFileSync(deny, 'rpc.rstatd: ALL\n');
  ns.start([RPCBIND, '-f']);
  await waitFor(() => (rpcMappings(ns) !== null ? true : undefined), 5000, `rpcbind in the ${tag} namespace`);
  return { ns, allow, deny };
}

test(
  'RPC side by side with real xinetd: clashing registrations, TCP wrappers over UDP and TCP, a reload changing rpc_version, SIGTERM',
  { skip, timeout: 120_000 },
  async (t) => {
    const dir = tempDir(t, 'rpc-xinetd');
    const [x, o] = await Promise.all([withRpcbind(t, dir, 'xinetd'), withRpcbind(t, dir, 'tsinetd')]);
    const xLog = join(dir, 'xinetd-services.log');
    const conf = join(dir, 'xinetd.conf');
    const xDefaults = { log_type: `FILE ${xLog}`, log_on_success: 'PID HOST EXIT DURATION', log_on_failure: 'HOST' };
    writeFileSync(conf, renderConfig(services('1'), xDefaults));
    // xinetd reads the hosts files at their system paths: bound over them in its mount namespace.
    for (const [from, to] of [
      [x.allow, '/etc/hosts.allow'],
      [x.deny, '/etc/hosts.deny'],
    ] as const) {
      assert.equal(x.ns.run(['mount', '--bind', from, to]).status, 0, `bind ${to}`);
    }
    const [xinetd, ours] = await Promise.all([
      startXinetd(t, conf, join(dir, 'xinetd-daemon.log'), [], x.ns.enter),
      startDaemon(t, { services: services('1'), args: ['--hosts-allow', o.allow, '--hosts-deny', o.deny], wrap: o.ns.enter }),
    ]);
    const xServiceLog = (): string => (existsSync(xLog) ? readFileSync(xLog, 'utf8') : '');

    // 1. Who registers what: the first service has a version; rstat-c, left with none, is not served.
    assert.equal(xinetd.started, 4);
    await ours.waitForDaemonLog(/Started working: 4 available services/);
    const table = (ns: Netns): string[] | undefined => {
      const m = rpcMappings(ns, PROGRAMS);
      return m !== null && m.length === 4 ? m : undefined;
    };
    const xBefore = await waitFor(() => table(x.ns), 5000, "xinetd's mappings");
    const oBefore = await waitFor(() => table(o.ns), 5000, 'our mappings');
    assert.deepEqual(shape(oBefore), shape(xBefore));
    assert.deepEqual(shape(xBefore), ['100001 1 udp P1', '100001 2 udp P2', '100001 3 tcp P3', '100002 1 udp P4']);
    const pmap = (log: string): string[] => log.split('\n').flatMap((l) => /pmap_set failed\..*/.exec(l) ?? []);
    assert.deepEqual(pmap(xinetd.log()), [
      'pmap_set failed. service=rstat-b program=100001 version=1',
      'pmap_set failed. service=rstat-c program=100001 version=2',
    ]);
    assert.match(xinetd.log(), /ERROR: Service rstat-c failed to start and is deactivated\./);
    // tsinetd decides rstat-c's fate from the configuration (its line says why, at the service's place).
    assert.deepEqual(pmap(ours.daemonLog()), ['pmap_set failed. service=rstat-b program=100001 version=1']);
    assert.match(
      ours.daemonLog(),
      /ERROR: .*xinetd\.conf:\d+:\d+: error: RPC program 100001 over udp: version 2 is registered by service 'rstatd' \(id rstat-b\) .*: it is disabled \[rpc-clash\]/,
    );

    // 2. TCP wrappers: over UDP, rpc.rstatd is refused (no reply); over TCP never asked (NOLIBWRAP).
    const [xu, ou] = await Promise.all([
      x.ns.output([RPCINFO, '-u', '127.0.0.1', '100001', '2'], 2500),
      o.ns.output([RPCINFO, '-u', '127.0.0.1', '100001', '2'], 2500),
    ]);
    assert.deepEqual([xu.status, ou.status], [null, null], 'no reply to either call over UDP');
    const fail = 'FAIL: rstat-b libwrap from=::ffff:127.0.0.1';
    // The Node spawner cannot learn a wait = yes datagram's sender: it refuses every one (BUGS).
    const ourFail = process.env['TSINETD_SPAWNER'] === 'node' ? 'FAIL: rstat-b address' : fail;
    await waitFor(() => (masked(xServiceLog()).includes(fail) && masked(ours.serviceLog()).includes(ourFail) ? true : undefined), 5000, 'both FAIL lines');
    const refusal = (log: string): string[] => log.split('\n').flatMap((l) => /libwrap refused connection to .*/.exec(l) ?? []);
    const bRefusal = ['libwrap refused connection to rstat-b (libwrap=rpc.rstatd) from ::ffff:127.0.0.1'];
    const same = (a: readonly string[], b: readonly string[]): boolean => JSON.stringify([...new Set(a)]) === JSON.stringify(b);
    await waitFor(
      () => (same(refusal(xinetd.log()), bRefusal) && (ourFail !== fail || same(refusal(ours.daemonLog()), bRefusal)) ? true : undefined),
      5000,
      'the refusal line of rstat-b in both daemon logs',
    );
    for (const ns of [x.ns, o.ns]) {
      assert.match(ns.run([RPCINFO, '-t', '127.0.0.1', '100001', '3']).stdout, /program 100001 version 3 ready and waiting/);
    }
    // A server that keeps running (rpc.rstatd on a connection nc holds open), for SIGTERM below. It
    // starts now: after the reload, hosts.deny refuses it.
    for (const ns of [x.ns, o.ns]) ns.start(['nc', '127.0.0.1', String(tcpPortOf(ns))]);
    const start = /^START: rstat-t pid=N from=::ffff:127\.0\.0\.1$/;
    const starts = (log: string): number => masked(log).filter((l) => start.test(l)).length;
    await waitFor(() => (starts(xServiceLog()) >= 2 && starts(ours.serviceLog()) >= 2 ? true : undefined), 5000, 'two START lines in each');

    // 3. A reload changing rpc_version: the same port, the new versions registered.
    writeFileSync(conf, renderConfig(services('1-2'), xDefaults));
    ours.rewrite(services('1-2'));
    xinetd.signal('SIGHUP');
    ours.signal('SIGHUP');
    const five = (ns: Netns): string[] | undefined => {
      const m = rpcMappings(ns, PROGRAMS);
      return m !== null && m.length === 5 ? m : undefined;
    };
    const xAfter = await waitFor(() => five(x.ns), 5000, "xinetd's mappings after the reload");
    const oAfter = await waitFor(() => five(o.ns), 5000, 'our mappings after the reload');
    const rusers = (lines: readonly string[]): string[] => lines.filter((l) => l.startsWith('100002 '));
    const rusersPort = (lines: readonly string[]): string => rusers(lines)[0]?.split(' ')[3] ?? '';
    for (const [before, after] of [
      [xBefore, xAfter],
      [oBefore, oAfter],
    ] as const) {
      assert.deepEqual(
        rusers(after),
        ['1', '2'].map((v) => `100002 ${v} udp ${rusersPort(before)}`),
        'the port stays',
      );
      assert.deepEqual(
        after.filter((l) => l.startsWith('100001 ')),
        before.filter((l) => l.startsWith('100001 ')),
      );
    }
    await ours.waitForDaemonLog(/NOTICE: readjusting service rusers-r$/);
    assert.match(xinetd.log(), /NOTICE: readjusting service rusers-r$/m);
    // The reload kept rstat-t without activating it again: from now on the TCP wrappers apply to it.
    for (const ns of [x.ns, o.ns]) {
      const r = ns.run([RPCINFO, '-t', '127.0.0.1', '100001', '3']);
      assert.ok(r.status !== 0 && !r.stdout.includes('ready and waiting'), r.stdout);
    }
    const tFail = 'FAIL: rstat-t libwrap from=::ffff:127.0.0.1';
    await waitFor(
      () => (masked(xServiceLog()).includes(tFail) && masked(ours.serviceLog()).includes(tFail) ? true : undefined),
      5000,
      'both FAIL lines of rstat-t',
    );
    const tRefusal = 'libwrap refused connection to rstat-t (libwrap=rpc.rstatd) from ::ffff:127.0.0.1';
    await waitFor(
      () => (refusal(ours.daemonLog()).includes(tRefusal) && refusal(xinetd.log()).includes(tRefusal) ? true : undefined),
      5000,
      'both refusal lines of rstat-t',
    );

    // 4. SIGTERM with the RPC server nc holds running: killed with xinetd's line, every mapping removed.
    xinetd.signal('SIGTERM');
    await xinetd.gone;
    await ours.stop('SIGTERM');
    const killed = (log: string): string[] => [...new Set(log.split('\n').flatMap((l) => /WARNING: Sending signal \d+ to \S+ server/.exec(l) ?? []))];
    assert.deepEqual(killed(ours.daemonLog()), killed(xinetd.log()));
    assert.deepEqual(killed(xinetd.log()), ['WARNING: Sending signal 9 to rstat-t server']);
    // Then "Exiting...", in both.
    const tail = (log: string): string[] => log.split('\n').flatMap((l) => /WARNING: (Sending signal 9|Exiting)/.exec(l)?.[1] ?? []);
    assert.equal(tail(ours.daemonLog()).at(-1), 'Exiting');
    assert.equal(tail(xinetd.log()).at(-1), 'Exiting');
    assert.deepEqual(rpcMappings(x.ns, PROGRAMS), []);
    assert.deepEqual(rpcMappings(o.ns, PROGRAMS), []);
  },
);

/** The TCP port rpcbind gives for program 100001 version 3. */
function tcpPortOf(ns: Netns): number {
  const line = (rpcMappings(ns) ?? []).find((l) => l.startsWith('100001 3 tcp '));
  return Number(line?.split(' ')[3] ?? 0);
}
