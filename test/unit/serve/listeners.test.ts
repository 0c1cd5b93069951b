// Where and how each service listens (the pure plan), and what cannot be served.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, test } from 'node:test';
import { SpawnRateGuard } from '../../../src/serve/serve-wait.js';
import {
  helperAccepts,
  listenPlan,
  listenPlans,
  socketKey,
  socketsKey,
  servingLimitations,
  UNIX_DGRAM_NEEDS_HELPER,
  unservedHere,
  type ListenPlan,
} from '../../../src/serve/listen-plan.js';
import { Listener, type BindRetryOutcome, type ListenerEvents } from '../../../src/serve/listener.js';
import { ListenerSet } from '../../../src/serve/listeners.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';
import { freePort, waitFor } from '../../helpers/net.js';

function service(attrs: Partial<Service> = {}): Service {
  return Object.assign(newService('svc', 'xinetd', { file: 't.conf', line: 1 }), { port: 7000, server: '/bin/cat', server_argv: ['cat'] }, attrs);
}

/** Events that close every connection at once, and pass bind retry reports to `bindRetried`. */
function closingEvents(bindRetried: ListenerEvents['bindRetried'] = () => {}): ListenerEvents {
  return {
    stream: (_l, socket) => socket.destroy(),
    accepted: (_l, conn) => conn.drop(),
    datagram: () => {},
    waitReady: () => {},
    error: () => {},
    bindRetried,
  };
}

function plan(attrs: Partial<Service>): ListenPlan {
  const r = listenPlan(service(attrs));
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.plan;
}

describe('addresses', () => {
  test('default: the IPv6 wildcard, dual-stack', () => {
    assert.deepEqual(plan({}), { mode: 'stream', transport: 'tcp', port: 7000, host: '::', family: 6, v6only: false });
  });
  test('v6only = yes keeps IPv4 clients out of the wildcard socket', () => {
    assert.equal(plan({ v6only: true }).v6only, true);
  });
  test('flags = IPv4: the IPv4 wildcard', () => {
    assert.deepEqual(plan({ flags: ['IPv4'] }), { mode: 'stream', transport: 'tcp', port: 7000, host: '0.0.0.0', family: 4, v6only: false });
  });
  test('an IPv4 bind address gives a plain IPv4 socket, an IPv6 one an IPv6 socket', () => {
    assert.deepEqual([plan({ bind: '127.0.0.1' }).host, plan({ bind: '127.0.0.1' }).family], ['127.0.0.1', 4]);
    assert.deepEqual([plan({ bind: '::1' }).host, plan({ bind: '::1' }).family], ['::1', 6]);
  });
  test('a host name is resolved later, in the family the flags ask for', () => {
    assert.deepEqual([plan({ bind: 'localhost' }).host, plan({ bind: 'localhost' }).family], ['localhost', 0]);
    assert.equal(plan({ bind: 'localhost', flags: ['IPv4'] }).family, 4);
    assert.equal(plan({ bind: 'localhost', flags: ['IPv6'] }).family, 6);
  });
});

describe('one socket per address family (inetd.conf tcp/udp of OpenBSD: family_sockets)', () => {
  const plans = (attrs: Partial<Service>): ListenPlan[] => {
    const r = listenPlans(service(attrs));
    assert.ok(r.ok, r.ok ? '' : r.reason);
    return r.plans;
  };
  test('an AF_INET socket on 0.0.0.0, then a v6only AF_INET6 one on [::]', () => {
    assert.deepEqual(
      plans({ family_sockets: true, v6only: true }).map((p) => [p.host, p.family, p.v6only]),
      [
        ['0.0.0.0', 4, false],
        ['::', 6, true],
      ],
    );
    // listenPlan() gives the first: an IPv4 client's socket (explain, helperAccepts)
    assert.equal(plan({ family_sockets: true }).family, 4);
  });
  test('a host name: both families of its addresses; an address literal: its own socket only', () => {
    assert.deepEqual(
      plans({ family_sockets: true, bind: 'localhost' }).map((p) => [p.host, p.family]),
      [
        ['localhost', 4],
        ['localhost', 6],
      ],
    );
    assert.deepEqual(
      plans({ family_sockets: true, bind: '127.0.0.1' }).map((p) => [p.host, p.family]),
      [['127.0.0.1', 4]],
    );
  });
  test('without it, one socket; the reload key tells the two apart', () => {
    assert.equal(plans({}).length, 1);
    assert.notEqual(socketsKey(service({ family_sockets: true, v6only: true })), socketsKey(service({ v6only: true })));
    assert.notEqual(socketsKey(service({ family_sockets: true, v6only: true })), socketsKey(service({ v6only: false })));
  });
  test('a ListenerSet opens both (real sockets), keeps both across an unchanged reload, closes both', async (t) => {
    const port = await freePort();
    const set = new ListenerSet(closingEvents());
    t.after(() => set.close());
    const s = service({ name: 'daytime', type: ['INTERNAL'], server: null, server_argv: [], port, family_sockets: true, v6only: true });
    const first = await set.apply([s]);
    assert.deepEqual([first.opened.length, first.failed.length], [2, 0], JSON.stringify(first.failed.map((f) => f.reason)));
    assert.deepEqual(
      set.activeServices.map((x) => x.id),
      [s.id],
      'one service, counted once',
    );
    assert.deepEqual(set.all.map((l) => l.plan.family).sort(), [4, 6]);
    const again = await set.apply([{ ...s }]);
    assert.deepEqual([again.kept.length, again.opened.length, again.closed.length], [2, 0, 0]);
    const gone = await set.apply([]);
    assert.equal(gone.closed.length, 2);
  });
});

describe('modes', () => {
  test('programs: nowait stream gets accepted sockets; wait = yes and datagram services get the socket itself', () => {
    assert.equal(plan({}).mode, 'stream');
    assert.equal(plan({ wait: true }).mode, 'stream-wait');
    assert.equal(plan({ socket_type: 'dgram', protocol: 'udp', wait: true }).mode, 'dgram-wait');
    assert.equal(plan({ socket_type: 'dgram', protocol: 'udp', wait: false }).mode, 'dgram-wait');
  });
  test('internal services and redirects are served in-process', () => {
    assert.equal(plan({ name: 'echo', type: ['INTERNAL'], server: null }).mode, 'stream');
    assert.equal(plan({ name: 'echo', type: ['INTERNAL'], server: null, socket_type: 'dgram', protocol: 'udp', wait: true }).mode, 'dgram');
    assert.equal(plan({ redirect: { host: '127.0.0.1', port: 80 }, server: null }).mode, 'stream');
  });
});

describe('what cannot be served', () => {
  const reason = (attrs: Partial<Service>): string => {
    const r = listenPlan(service(attrs));
    assert.equal(r.ok, false);
    return r.reason;
  };
  test('RPC without its program or versions, TCPMUX services (reached through tcpmux), unknown internal services', () => {
    assert.match(reason({ type: ['RPC'] }), /RPC service without a program number or version/);
    assert.match(reason({ type: ['RPC'], rpc_number: 100001 }), /RPC service without/);
    assert.match(reason({ type: ['TCPMUX', 'UNLISTED'], port: null }), /no socket of its own/);
    assert.match(reason({ type: ['TCPMUXPLUS', 'UNLISTED'], port: null }), /no socket of its own/);
    assert.deepEqual(servingLimitations(service({ type: ['TCPMUXPLUS', 'UNLISTED'], port: null })), []);
    assert.match(
      reason({ name: 'tcpmux', socket_type: 'dgram', protocol: 'udp', type: ['INTERNAL'], server: null }),
      /No such internal service: tcpmux\/dgram/,
    );
    assert.equal(reason({ name: 'qotd', type: ['INTERNAL'], server: null }), 'No such internal service: qotd/stream');
  });
  test('raw sockets, odd protocols, missing port, datagram redirects', () => {
    assert.match(reason({ socket_type: 'raw' }), /socket_type raw/);
    assert.match(reason({ protocol: 'sctp' }), /protocol sctp/);
    assert.equal(reason({ port: null }), 'no port');
    assert.match(reason({ socket_type: 'dgram', protocol: 'udp', redirect: { host: 'h', port: 1 }, server: null }), /redirect/);
  });
  test('limitations reported for --check', () => {
    assert.deepEqual(servingLimitations(service({})), []);
    // A datagram program's sender is learnt (or the datagram refused: see unsupportedBySpawner).
    const dgram = service({ socket_type: 'dgram', protocol: 'udp', wait: false, only_from: ['127.0.0.1'] });
    assert.deepEqual(servingLimitations(dgram), [
      'wait = no on a datagram service is served as wait = yes (one server at a time) [versus xinetd: the same clients, fewer at a time]',
    ]);
    assert.deepEqual(servingLimitations(service({ socket_type: 'dgram', protocol: 'udp', wait: true, only_from: ['127.0.0.1'] })), []);
    // A wait = yes stream server accepts by itself: address checks cannot apply.
    assert.deepEqual(servingLimitations(service({ wait: true, per_source: 2 })), [
      'per_source cannot be checked for a wait = yes stream service: the client address is never known, so they let every client in (as in xinetd) [versus xinetd: the same clients are admitted]',
    ]);
    // only_from refuses every client there (admission.ts), as xinetd's check of an empty address does.
    const both = servingLimitations(service({ wait: true, only_from: ['127.0.0.1'], no_access: [] }));
    assert.match(both[0]!, /^only_from refuses every client of a wait = yes stream service/);
    assert.match(both[1]!, /^no_access cannot be checked/);
    assert.deepEqual(servingLimitations(service({ wait: true })), []);
    assert.deepEqual(servingLimitations(service({ type: ['RPC'], rpc_number: 100001, rpc_version: [2, 4], port: null })), []);
    // FreeBSD wait/3: the socket itself goes to the server, one at a time
    assert.match(servingLimitations(service({ wait: true, instances: 3, instances_at_limit: 'queue' }))[0]!, /max-child 3 .* one server runs at a time/);
    assert.deepEqual(servingLimitations(service({ instances: 3, instances_at_limit: 'queue' })), [], 'nowait: queued as FreeBSD does');
  });
});

describe('unix-domain sockets (inetd.conf protocol unix)', () => {
  const sock = { path: '/run/x.sock', owner: null, group: null, mode: 0o666 };
  const unix = (attrs: Partial<Service> = {}): Service => service({ dialect: 'inetd', protocol: 'unix', port: null, unix: sock, ...attrs });
  test('a stream socket at the path; wait = yes gets the socket itself; internal services are served in-process', () => {
    assert.deepEqual(plan({ dialect: 'inetd', protocol: 'unix', port: null, unix: sock }), {
      mode: 'stream',
      transport: 'unix',
      port: 0,
      host: '',
      family: 0,
      v6only: false,
      unix: sock,
    });
    assert.equal(plan({ protocol: 'unix', port: null, unix: sock, wait: true }).mode, 'stream-wait');
    assert.equal(plan({ protocol: 'unix', port: null, unix: sock, name: 'echo', type: ['INTERNAL'], server: null }).mode, 'stream');
  });
  test('redirects, internal datagram services and a missing path cannot be served', () => {
    const why = (s: Service): string => {
      const r = listenPlan(s);
      return r.ok ? 'ok' : r.reason;
    };
    assert.equal(
      why(unix({ socket_type: 'dgram', name: 'echo', type: ['INTERNAL'], server: null })),
      'internal services are not served on a unix-domain datagram socket',
    );
    assert.match(why(unix({ redirect: { host: '127.0.0.1', port: 80 }, server: null })), /redirect/);
    assert.match(why(unix({ socket_type: 'dgram', redirect: { host: '127.0.0.1', port: 80 }, server: null })), /redirect/);
    assert.equal(why(unix({ unix: null })), 'no socket path');
  });
  test('a datagram program: one server at a time on the socket the spawn helper holds, served only with that helper', () => {
    const d = unix({ socket_type: 'dgram', wait: true });
    const p = plan({ dialect: 'inetd', protocol: 'unix', port: null, unix: sock, socket_type: 'dgram', wait: true });
    assert.deepEqual([p.mode, p.transport, p.unix], ['dgram-wait', 'unix', sock]);
    assert.equal(socketsKey(d), 'dgram-wait unix /run/x.sock -:-:0666');
    assert.notEqual(socketsKey(d), socketsKey(unix()), 'a stream and a datagram socket at one path are different sockets');
    assert.equal(helperAccepts(d), false);
    assert.equal(unservedHere(p, true), null);
    assert.match(unservedHere(p, false) ?? '', /^unix-domain datagram sockets are served only by the native spawn helper/);
    assert.equal(unservedHere(plan({ dialect: 'inetd', protocol: 'unix', port: null, unix: sock }), false), null, 'stream sockets need no helper');
    assert.deepEqual(servingLimitations(d, true), []);
    assert.deepEqual(servingLimitations(d, false), [UNIX_DGRAM_NEEDS_HELPER + ' [versus xinetd: tsinetd starts less]']);
    // nowait on a datagram socket is served as wait = yes, as for UDP
    assert.match(servingLimitations(unix({ socket_type: 'dgram', wait: false }), true)[0] ?? '', /wait = no on a datagram service is served as wait = yes/);
  });
  test('the daemon accepts, never the helper; the key holds the path, owner, group and mode', () => {
    assert.equal(helperAccepts(unix()), false);
    assert.equal(socketsKey(unix()), 'stream unix /run/x.sock -:-:0666');
    assert.notEqual(socketsKey(unix()), socketsKey(unix({ unix: { ...sock, mode: 0o600 } })));
    assert.notEqual(socketsKey(unix()), socketsKey(unix({ unix: { ...sock, owner: 'nobody' } })));
    assert.notEqual(socketsKey(unix()), socketsKey(unix({ unix: { ...sock, path: '/run/y.sock' } })));
  });
  test('--check: only_from refuses everyone; the other address checks let everyone in', () => {
    assert.deepEqual(servingLimitations(unix()), []);
    const said = servingLimitations(unix({ only_from: ['127.0.0.1'], per_source: 3, per_source_per_minute: 5 }));
    assert.equal(said.length, 2, said.join('\n'));
    assert.match(said[0] ?? '', /^only_from refuses every client of a unix-domain socket: a unix peer has no address \[versus xinetd: tsinetd admits less\]$/);
    assert.match(said[1] ?? '', /^per_source, per_source_per_minute cannot be checked on a unix-domain socket/);
  });
});

describe('plan keys (reload keeps a socket when its key is unchanged)', () => {
  test('same address, port and mode: same key; anything else differs', () => {
    assert.equal(socketKey(plan({})), socketKey(plan({ server: '/bin/echo' })));
    assert.notEqual(socketKey(plan({})), socketKey(plan({ port: 7001 })));
    assert.notEqual(socketKey(plan({})), socketKey(plan({ wait: true })));
    assert.notEqual(socketKey(plan({})), socketKey(plan({ v6only: true })));
    assert.notEqual(socketKey(plan({ bind: '127.0.0.1' })), socketKey(plan({ bind: '127.0.0.2' })));
    // RPC services bind port 0 (an ephemeral port, registered with rpcbind): the service and its
    // program name the socket, as xinetd's reload matches them; the versions do not (a reload
    // changing them keeps the port and registers again, as xinetd's readjust_rpc_service).
    const rpc = (o: Partial<Service>): ListenPlan => plan({ type: ['RPC'], port: null, rpc_number: 100001, rpc_version: [2, 4], ...o });
    assert.equal(rpc({}).port, 0);
    assert.equal(rpc({ id: 'rstat-u' }).rpc, '100001 of rstat-u');
    assert.equal(socketKey(rpc({})), socketKey(rpc({ server: '/bin/other' })));
    assert.equal(socketKey(rpc({})), socketKey(rpc({ rpc_version: [3, 3] })));
    assert.notEqual(socketKey(rpc({})), socketKey(rpc({ rpc_number: 100002 })));
    assert.notEqual(socketKey(rpc({ id: 'a' })), socketKey(rpc({ id: 'b' })), 'two services of one program: two sockets');
    assert.notEqual(socketKey(rpc({})), socketKey(rpc({ socket_type: 'dgram', protocol: 'udp', wait: true })));
    assert.notEqual(socketKey(rpc({})), socketKey(plan({ port: 0 })));
  });

  test('who accepts is not part of the identity: a banner (daemon accepts) or none (helper accepts) is the same socket', () => {
    assert.equal(helperAccepts(service({})), true);
    assert.equal(helperAccepts(service({ banner: '/etc/issue' })), false);
    assert.equal(socketsKey(service({ banner: '/etc/issue' })), socketsKey(service({})));
  });
});

describe('the last-resort guard against wait = yes servers that never read', () => {
  test('trips at max starts within the window, then counts again from zero', () => {
    const g = new SpawnRateGuard(3, 1000);
    assert.equal(g.record(0), false);
    assert.equal(g.record(10), false);
    assert.equal(g.record(20), true);
    assert.equal(g.record(30), false);
  });
  test('starts older than the window do not count', () => {
    const g = new SpawnRateGuard(3, 1000);
    g.record(0);
    g.record(700);
    assert.equal(g.record(1600), false);
    assert.equal(g.record(1650), true);
  });
});

describe('who accepts: the daemon, or the native helper (helperAccepts)', () => {
  const internal = (name: string, socketType: 'stream' | 'dgram' = 'stream'): Partial<Service> => ({
    name,
    type: ['INTERNAL'],
    server: null,
    server_argv: [],
    socket_type: socketType,
    protocol: socketType === 'stream' ? 'tcp' : 'udp',
  });
  test('nowait programs and daytime/time streams: the helper', () => {
    assert.equal(helperAccepts(service({})), true);
    assert.equal(helperAccepts(service(internal('daytime'))), true);
    assert.equal(helperAccepts(service(internal('time'))), true);
  });
  test('services that need the socket in the daemon: not the helper', () => {
    assert.equal(helperAccepts(service(internal('echo'))), false, 'echo streams in the daemon');
    assert.equal(helperAccepts(service(internal('chargen'))), false);
    assert.equal(helperAccepts(service(internal('tcpmux'))), false, 'tcpmux reads the name line in the daemon');
    assert.equal(helperAccepts(service(internal('daytime', 'dgram'))), false, 'datagrams');
    assert.equal(helperAccepts(service({ wait: true })), false, 'wait = yes gets the listening socket itself');
    assert.equal(helperAccepts(service({ redirect: { host: '127.0.0.1', port: 80 } })), false);
    assert.equal(helperAccepts(service({ banner: '/etc/issue' })), false, 'banners are written to the socket');
    assert.equal(helperAccepts(service({ banner_success: '/etc/issue' })), false);
    assert.equal(helperAccepts(service({ banner_fail: '/etc/issue' })), false);
    assert.equal(helperAccepts(service({ log_on_success: ['HOST', 'USERID'] })), false, 'USERID lookups watch the socket');
    assert.equal(helperAccepts(service({ log_on_failure: ['USERID'] })), false);
    assert.equal(helperAccepts(service({ flags: ['IDONLY'] })), false);
  });
});

describe('cps suspension whose reopen fails (a real socket on 127.0.0.1)', () => {
  /** An in-process daytime stream listener on 127.0.0.1:port, with its bind retry reports. */
  async function daytime(port: number): Promise<{ l: Listener; retried: BindRetryOutcome[] }> {
    const retried: BindRetryOutcome[] = [];
    const events = closingEvents((_l, outcome) => retried.push(outcome));
    const s = service({ name: 'daytime', type: ['INTERNAL'], server: null, server_argv: [], port, bind: '127.0.0.1' });
    const r = listenPlan(s);
    assert.ok(r.ok);
    const l = new Listener(s, r.plan, events);
    await l.open();
    return { l, retried };
  }

  async function block(port: number): Promise<net.Server> {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    return blocker;
  }

  function suspend(l: Listener, retryBaseMs: number | null): Promise<{ ok: boolean; err?: NodeJS.ErrnoException; state: string }> {
    return new Promise((resolve) => {
      void l.suspend(0.05, (ok, err) => resolve({ ok, ...(err !== undefined ? { err } : {}), state: l.state }), retryBaseMs);
    });
  }

  test('joins the background bind retry, and is bound again once the address is free', async (t) => {
    const port = await freePort();
    const { l, retried } = await daytime(port);
    t.after(() => l.close());
    const resumed = suspend(l, 20);
    assert.equal(l.state, 'suspended');
    assert.equal(l.hasSocket, false);
    const blocker = await block(port);
    t.after(() => blocker.close());
    const r = await resumed;
    assert.equal(r.ok, false);
    assert.equal(r.err?.code, 'EADDRINUSE');
    assert.equal(r.state, 'retrying', 'already retrying when the failure is reported');
    assert.equal(l.hasSocket, false);
    const first = await waitFor(() => retried[0], 3000, 'a failed retry');
    assert.ok(!first.ok);
    assert.deepEqual([first.attempt, first.error.code, first.nextMs], [1, 'EADDRINUSE', 40]);
    await new Promise<void>((r) => blocker.close(() => r()));
    const done = await waitFor(() => retried.find((o) => o.ok), 3000, 'the socket bound again');
    assert.ok(done.attempts >= 2, `bound after ${done.attempts} failed attempts`);
    assert.equal(l.state, 'active');
    assert.equal(l.hasSocket, true);
    assert.equal(l.port, port);
  });

  test('close() while retrying ends the attempts', async (t) => {
    const port = await freePort();
    const { l, retried } = await daytime(port);
    const resumed = suspend(l, 20);
    const blocker = await block(port);
    t.after(() => blocker.close());
    assert.equal((await resumed).state, 'retrying');
    await waitFor(() => retried[0], 3000, 'a failed retry');
    await l.close();
    const seen = retried.length;
    await new Promise<void>((r) => blocker.close(() => r()));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(l.state, 'closed');
    assert.equal(l.hasSocket, false);
    assert.equal(retried.length, seen, 'no attempt after close()');
  });

  test('without a retry pause (xinetd), it stays suspended', async (t) => {
    const port = await freePort();
    const { l, retried } = await daytime(port);
    t.after(() => l.close());
    const resumed = suspend(l, null);
    const blocker = await block(port);
    t.after(() => blocker.close());
    const r = await resumed;
    assert.equal(r.ok, false);
    assert.equal(r.state, 'suspended');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(l.state, 'suspended');
    assert.equal(retried.length, 0);
  });
});
