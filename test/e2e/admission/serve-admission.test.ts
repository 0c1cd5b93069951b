// How serving uses the Admission contract, with a scripted admission and the server run
// in-process (startServer) on real sockets and real server programs: refusals (FAIL,
// banner_fail, closed connection, dropped datagram reported once), deactivation for
// suspendSeconds (cps), started()/finished() around servers, asynchronous decisions.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { Admission, Decision } from '../../../src/admission/admission-types.js';
import { addressChecks } from '../../../src/service-needs.js';
import type { Peer } from '../../../src/peer.js';
import { newService } from '../../../src/service-defaults.js';
import { startServer } from '../../../src/serve/server.js';
import type { ServerHandle } from '../../../src/serve/server-types.js';
import { NodeSpawner } from '../../../src/spawn/spawn-node.js';
import type { Service } from '../../../src/table.js';
import { FIXTURES, have, MemoryLog } from '../../helpers/daemon.js';
import { tcpRequest, udpClient, waitFor } from '../../helpers/net.js';

function svc(name: string, attrs: Partial<Service>): Service {
  return Object.assign(
    newService(name, 'xinetd', { file: 'test.conf', line: 1 }),
    { port: 0, bind: '127.0.0.1', log_on_success: ['PID', 'HOST', 'EXIT'], log_on_failure: ['HOST'] },
    attrs,
  );
}

function program(name: string, server: string, attrs: Partial<Service> = {}): Service {
  return svc(name, { type: ['UNLISTED'], server, server_argv: [server.split('/').pop()!], user: null, ...attrs });
}

/** Records every call; decides with `decide`. */
class ScriptedAdmission implements Admission {
  readonly calls: Array<{ what: 'admit' | 'started' | 'finished'; id: string; peer: Peer | null }> = [];
  constructor(private readonly decide: (service: Service, peer: Peer | null, n: number) => Decision | Promise<Decision>) {}
  admit(service: Service, peer: Peer): Decision | Promise<Decision> {
    this.calls.push({ what: 'admit', id: service.id, peer });
    return this.decide(service, peer, this.calls.filter((c) => c.what === 'admit' && c.id === service.id).length);
  }
  handedOver(): Decision {
    return { allow: true };
  }
  started(service: Service, peer: Peer): void {
    this.calls.push({ what: 'started', id: service.id, peer });
  }
  finished(service: Service, peer: Peer): void {
    this.calls.push({ what: 'finished', id: service.id, peer });
  }
  needsAddress(service: Service): boolean {
    return addressChecks(service).length > 0;
  }
  count(what: 'admit' | 'started' | 'finished', id: string): number {
    return this.calls.filter((c) => c.what === what && c.id === id).length;
  }
}

async function serve(
  t: TestContext,
  services: Service[],
  admission: Admission,
  spawner: NodeSpawner = new NodeSpawner(),
): Promise<{ log: MemoryLog; handle: ServerHandle }> {
  const log = new MemoryLog();
  const handle = await startServer(services, { log, spawner, admission });
  t.after(async () => {
    await handle.killServers('SIGKILL');
    await handle.close();
    await spawner.close();
  });
  assert.equal(handle.available, services.length, log.daemonText());
  return { log, handle };
}

/** Serves `udpw`, sends it one datagram, and resolves with the reply once its server's end is accounted. */
async function oneDatagram(t: TestContext, udpw: Service, admission: ScriptedAdmission, spawner?: NodeSpawner): Promise<{ log: MemoryLog; reply: string }> {
  const { log, handle } = await serve(t, [udpw], admission, spawner);
  const c = await udpClient();
  t.after(() => c.close());
  c.send('x', handle.portOf(udpw.id)!);
  const reply = (await c.replies(1))[0]?.toString() ?? '';
  await log.waitFor((e) => e.kind === 'EXIT', 'EXIT');
  await waitFor(() => (admission.count('finished', udpw.id) === 1 ? true : undefined), 2000, 'finished()');
  return { log, reply };
}

/** What admission was told, in order, and for which peer. */
const lifecycle = (admission: ScriptedAdmission): Array<[string, Peer | null]> => admission.calls.map((x) => [x.what, x.peer]);

const onlyFrom127001 = (_s: Service, peer: Peer | null): Decision =>
  peer === null || peer.address.endsWith('127.0.0.1') ? { allow: true } : { allow: false, reason: 'address' };

describe('serving with admission', { skip: have('python3') ? false : 'python3 is not installed' }, () => {
  test('a refused client gets banner then banner_fail, and a FAIL line; an admitted one gets the server', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsinetd-adm-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'banner'), 'WELCOME\r\n');
    writeFileSync(join(dir, 'fail'), 'DENIED\r\n');
    const admission = new ScriptedAdmission(onlyFrom127001);
    const s = program('guarded', join(FIXTURES, 'exit-with'), { bind: null, banner: join(dir, 'banner'), banner_fail: join(dir, 'fail') });
    const { log, handle } = await serve(t, [s], admission);
    const port = handle.portOf('guarded')!;

    const refused = await tcpRequest({ port, localAddress: '127.0.0.2' });
    assert.equal(refused.data.toString(), 'WELCOME\r\nDENIED\r\n');
    assert.equal(refused.ended, 'eof');
    const fail = log.of('FAIL')[0];
    assert.equal(fail?.reason, 'address');
    assert.equal(fail.peer?.address, '::ffff:127.0.0.2');
    assert.equal(log.of('START').length, 0);
    assert.equal(admission.count('started', 'guarded'), 0);

    const admitted = await tcpRequest({ port });
    assert.equal(admitted.data.toString(), 'WELCOME\r\nbye\n');
    await log.waitFor((e) => e.kind === 'EXIT', 'EXIT');
    await waitFor(() => (admission.count('finished', 'guarded') === 1 ? true : undefined), 2000, 'finished()');
    assert.equal(admission.count('started', 'guarded'), 1);
  });

  test('started()/finished() surround forking internal services and redirects, not daytime', async (t) => {
    const admission = new ScriptedAdmission(() => ({ allow: true }));
    const echo = svc('echo', { type: ['INTERNAL'], id: 'echo-stream' });
    const daytime = svc('daytime', { type: ['INTERNAL'], id: 'daytime-stream' });
    const { handle } = await serve(t, [echo, daytime], admission);
    await tcpRequest({ port: handle.portOf('echo-stream')!, send: 'x' });
    await tcpRequest({ port: handle.portOf('daytime-stream')! });
    await waitFor(() => (admission.count('finished', 'echo-stream') === 1 ? true : undefined), 2000, 'finished(echo)');
    assert.equal(admission.count('started', 'echo-stream'), 1);
    assert.equal(admission.count('admit', 'daytime-stream'), 1);
    assert.equal(admission.count('started', 'daytime-stream'), 0);
  });

  test("suspendSeconds closes the socket for that long, with xinetd's messages", async (t) => {
    const admission = new ScriptedAdmission((_s, _p, n) => (n === 2 ? { allow: false, reason: 'connections per second', suspendSeconds: 1 } : { allow: true }));
    const daytime = svc('daytime', { type: ['INTERNAL'], id: 'daytime-stream' });
    const { log, handle } = await serve(t, [daytime], admission);
    const port = handle.portOf('daytime-stream')!;
    assert.notEqual((await tcpRequest({ port })).data.length, 0);
    assert.equal((await tcpRequest({ port })).data.length, 0);
    await log.waitFor(
      (e) => e.kind === 'daemon' && e.message === 'Deactivating service daytime due to excessive incoming connections.  Restarting in 1 seconds.',
      'the deactivation message',
    );
    assert.equal(log.of('FAIL')[0]?.reason, 'connections per second');
    assert.equal((await tcpRequest({ port })).ended, 'ECONNREFUSED');
    await log.waitFor((e) => e.kind === 'daemon' && e.message === 'Activating service daytime', 'the reactivation message', 3000);
    assert.match((await tcpRequest({ port })).data.toString(), /^\d\d [A-Z]{3} /);
  });

  test('a refused datagram is dropped and its address failure reported once', async (t) => {
    const admission = new ScriptedAdmission(onlyFrom127001);
    const echo = svc('echo', { type: ['INTERNAL'], id: 'echo-dgram', socket_type: 'dgram', protocol: 'udp', wait: true });
    const { log, handle } = await serve(t, [echo], admission);
    const port = handle.portOf('echo-dgram')!;
    const bad = await udpClient({ localAddress: '127.0.0.2' });
    t.after(() => bad.close());
    for (let i = 0; i < 3; i++) bad.send(`no ${i}`, port);
    const good = await udpClient();
    t.after(() => good.close());
    good.send('yes', port);
    assert.equal((await good.replies(1))[0]?.toString(), 'yes');
    await waitFor(() => (admission.count('admit', 'echo-dgram') === 4 ? true : undefined), 2000, 'four decisions');
    assert.equal((await bad.replies(1, 300)).length, 0);
    assert.equal(log.of('FAIL').length, 1);
  });

  test('a slow (asynchronous) decision loses no client bytes: the socket stays paused', async (t) => {
    const admission = new ScriptedAdmission(() => new Promise<Decision>((r) => setTimeout(() => r({ allow: true }), 100)));
    const cat = program('cat', '/bin/cat');
    const { handle } = await serve(t, [cat], admission);
    const r = await tcpRequest({ port: handle.portOf('cat')!, send: 'request sent before the decision\n' });
    assert.equal(r.data.toString(), 'request sent before the decision\n');
  });

  test('wait = yes datagrams whose sender cannot be learnt (no helper), for a service that needs no address: admitted as xinetd\'s "<no address>"', async (t) => {
    const admission = new ScriptedAdmission(() => ({ allow: true }));
    const udpw = program('udpw', join(FIXTURES, 'udp-reply'), { socket_type: 'dgram', protocol: 'udp', wait: true });
    const { log, reply } = await oneDatagram(t, udpw, admission);
    assert.match(reply, /host=<no address> got=x$/);
    const noAddress = { address: '<no address>', port: 0, family: 'IPv6' };
    assert.deepEqual(
      lifecycle(admission),
      ['admit', 'started', 'finished'].map((what) => [what, noAddress]),
    );
    // The log has no address either (no from=).
    assert.equal(log.of('START')[0]?.peer, null);
  });

  test('wait = yes datagrams: the sender the spawner peeks at is admitted, counted while its server runs, and named in START', async (t) => {
    const admission = new ScriptedAdmission(onlyFrom127001);
    const sender = { address: '127.0.0.1', port: 4242, family: 'IPv4' } as const;
    const spawner = new (class extends NodeSpawner {
      readonly peeked: number[] = [];
      // The helper's part played here: the real peek is tested in spawn-native.test.ts.
      peekSender(fd: number): Promise<Peer | null> {
        this.peeked.push(fd);
        return Promise.resolve(sender);
      }
    })();
    const udpw = program('udpw', join(FIXTURES, 'udp-reply'), { socket_type: 'dgram', protocol: 'udp', wait: true, only_from: ['127.0.0.1'] });
    const { log, reply } = await oneDatagram(t, udpw, admission, spawner);
    assert.match(reply, /host=127\.0\.0\.1 got=x$/);
    assert.deepEqual(
      lifecycle(admission),
      ['admit', 'started', 'finished'].map((what) => [what, sender]),
    );
    assert.deepEqual(log.of('START')[0]?.peer, sender);
    assert.equal(spawner.peeked.length, 1);
  });

  test('wait = yes datagrams whose sender cannot be learnt: refused and dropped when admission needs the address', async (t) => {
    const admission = new ScriptedAdmission(() => ({ allow: true }));
    const spawner = new (class extends NodeSpawner {
      peekSender(): Promise<Peer | null> {
        return Promise.reject(Object.assign(new Error('the spawn helper exited'), { code: 'EPIPE' }));
      }
    })();
    const guarded = program('guarded', join(FIXTURES, 'udp-reply'), { socket_type: 'dgram', protocol: 'udp', wait: true, per_source: 3 });
    const { log, handle } = await serve(t, [guarded], admission, spawner);
    const c = await udpClient();
    t.after(() => c.close());
    c.send('x', handle.portOf('guarded')!);
    await log.waitFor((e) => e.kind === 'FAIL', 'FAIL');
    assert.equal((await c.replies(1, 500)).length, 0);
    assert.equal(log.of('FAIL')[0]?.reason, 'address');
    assert.equal(log.of('FAIL')[0]?.peer, null);
    assert.match(log.daemonText(), /warning: service guarded: the spawn helper exited/);
    assert.match(
      log.daemonText(),
      /warning: service guarded: datagram refused and dropped: its sender could not be learnt, and per_source need\(s\) the address/,
    );
    // Admission was never asked: there was nobody to ask about.
    assert.equal(admission.count('admit', 'guarded'), 0);
    assert.equal(log.of('START').length, 0);
  });

  test('an admission that throws refuses the client (with an address) and says why', async (t) => {
    const admission = new ScriptedAdmission(() => {
      throw new Error('acl table corrupt');
    });
    const daytime = svc('daytime', { type: ['INTERNAL'], id: 'daytime-stream' });
    const { log, handle } = await serve(t, [daytime], admission);
    assert.equal((await tcpRequest({ port: handle.portOf('daytime-stream')! })).data.length, 0);
    await log.waitFor((e) => e.kind === 'daemon' && /acl table corrupt/.test(e.message), 'the error');
    assert.match(log.daemonText(), /error: access control of service daytime-stream failed: acl table corrupt/);
    // Not `fork`: nothing was forked; the daemon's own failure, which fail2ban's filters do not count.
    assert.equal(log.of('FAIL')[0]?.reason, 'internal_error');
    assert.equal(log.of('START').length, 0);
  });

  test('an admission that throws refuses a wait = yes stream service too (no client address to go by)', async (t) => {
    const admission = new ScriptedAdmission(() => {
      throw new Error('acl table corrupt');
    });
    const waiting = program('waiting', '/bin/cat', { wait: true, server_argv: ['cat'] });
    const { log, handle } = await serve(t, [waiting], admission);
    const socket = net.connect({ port: handle.portOf('waiting')!, host: '127.0.0.1' });
    t.after(() => socket.destroy());
    socket.on('error', () => {});
    await log.waitFor((e) => e.kind === 'FAIL', 'FAIL');
    assert.equal(log.of('FAIL')[0]?.reason, 'internal_error');
    assert.equal(log.of('FAIL')[0]?.peer, null);
    assert.match(log.daemonText(), /error: access control of service waiting failed: acl table corrupt/);
    assert.equal(log.of('START').length, 0, 'no server started');
    assert.equal(admission.count('started', 'waiting'), 0);
  });
});

// FreeBSD max-child (instances that queue) with the daemon accepting itself (the Node spawner has
// no helper): past the limit the socket is paused; a reload that raises the limit resumes it,
// and one that turns the limit into xinetd's refusing kind serves what waited.
describe('queueing instances (FreeBSD max-child) across a reload', () => {
  test('a waiting client is served when a reload raises max-child; the socket is kept', async (t) => {
    const queued = (instances: number): Service => program('queued', '/bin/cat', { instances, instances_at_limit: 'queue', server_argv: ['cat'] });
    const admission = new ScriptedAdmission(() => ({ allow: true }));
    const { handle, log } = await serve(t, [queued(1)], admission);
    const port = handle.portOf('queued')!;
    const talk = (): { socket: net.Socket; got: () => string } => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      t.after(() => socket.destroy());
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('error', () => {});
      socket.write('ping\n');
      return { socket, got: () => text };
    };
    const first = talk();
    await waitFor(() => (first.got() === 'ping\n' ? true : undefined), 5000, 'the first client served');
    const second = talk();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(second.got(), '', 'the second waits while max-child 1 runs');
    assert.equal(admission.count('admit', 'queued'), 1, 'the waiting client was not admitted (nor refused)');
    assert.match(log.daemonText(), /service queued: 1 server\(s\) running, max-child 1: not accepting/);
    const summary = await handle.reload([queued(2)]);
    assert.deepEqual(summary, { added: 0, kept: 1, dropped: 0 });
    await waitFor(() => (second.got() === 'ping\n' ? true : undefined), 5000, 'the second served after max-child became 2');
    const third = talk();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(third.got(), '', 'the third waits: two run');
    first.socket.end();
    await waitFor(() => (third.got() === 'ping\n' ? true : undefined), 5000, 'the third served once the first server ended');
  });
});
