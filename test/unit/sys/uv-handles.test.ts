// Node's internals behind src/sys/uv-handles.ts. The handles the native spawner sends, with Node's
// pipe_wrap binding and with the public fallback used when that binding is gone: a real
// descriptor is sent to a real child process, which sees the same listening socket, and the
// daemon's copy stays open. The switch that makes this process act as a Node without the
// internals, and a listener that then still serves a real connection.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { ListenPlan } from '../../../src/serve/listen-plan.js';
import { Listener, type ListenerEvents } from '../../../src/serve/listener.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';
import {
  descriptorOf,
  loadBindings,
  nodeInternals,
  nodePipeBinding,
  pausableHandle,
  rawDescriptorHandle,
  readAtMost,
  SEND_OPTIONS,
  socketHandle,
  useNodeInternals,
  uvBindings,
} from '../../../src/sys/uv-handles.js';
import { WaitSocket } from '../../../src/serve/wait-socket.js';
import { acceptOn } from '../../../src/serve/pausable-accept.js';
import { tcpRequest } from '../../helpers/net.js';

const NO_BINDING = () => null;

/** A listening TCP socket the event loop does not watch (as a wait = yes service's). */
function unwatchedListener(t: TestContext): WaitSocket {
  const ws = WaitSocket.open({ transport: 'tcp', host: '127.0.0.1', family: 4, port: 0, v6only: false });
  t.after(() => ws.close());
  return ws;
}

/** Sends `handle` to a fresh Node process and returns the local port of what it received. */
async function portSeenByChild(handle: object): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      // A net.Socket arrives as one; a bare handle as Node's own TCP wrap (getsockname).
      `process.on('message', (m, h) => {
         let a = null;
         if (h && typeof h.address === 'function') a = h.address();
         else if (h && typeof h.getsockname === 'function') { a = {}; h.getsockname(a); }
         process.send({ port: a && a.port }, () => process.exit(0));
       });`,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' },
  );
  try {
    const reply = new Promise<{ port: number | null }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { port: number | null }));
      child.once('exit', (code) => reject(new Error(`child exited (${String(code)}) without answering`)));
    });
    child.send({ cmd: 'take' }, handle as net.Socket, SEND_OPTIONS);
    const { port } = await reply;
    assert.ok(port !== null);
    return port;
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

/** Whether a connection to the port is accepted by the kernel (something still listens on it). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}

test('a connected socket is sent as its bare handle; a destroyed one has none', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => {});
  const sock = await accepted;
  const handle = socketHandle(sock);
  assert.ok(handle !== null && !(handle instanceof net.Socket));
  sock.destroy();
  client.destroy();
  assert.equal(socketHandle(sock), null);
});

for (const [how, binding] of [
  ['pipe_wrap', nodePipeBinding],
  ['the public fallback', NO_BINDING],
] as const) {
  test(`a raw listening descriptor travels to another process through ${how}, and stays open here`, async (t) => {
    if (how === 'pipe_wrap' && nodePipeBinding() === null) {
      t.skip('this Node has no pipe_wrap binding: only the fallback runs');
      return;
    }
    const ws = unwatchedListener(t);
    const r = rawDescriptorHandle(ws.fd, binding);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.via, how === 'pipe_wrap' ? 'pipe_wrap' : 'net.Socket');
    assert.equal(await portSeenByChild(r.handle), ws.port);
    assert.equal(await listening(ws.port), true, "the daemon's descriptor was not closed by the send");
  });
}

test('a listening socket is sent through the pipe it listened through, which is let go when the socket closes', async (t) => {
  if (nodePipeBinding() === null) {
    t.skip('this Node has no pipe_wrap binding');
    return;
  }
  const ws = WaitSocket.open({ transport: 'tcp', host: '127.0.0.1', family: 4, port: 0, v6only: false });
  const first = rawDescriptorHandle(ws.fd);
  const second = rawDescriptorHandle(ws.fd);
  assert.ok(first.ok && second.ok);
  assert.equal(second.handle, first.handle, 'a second pipe was opened on the descriptor');
  assert.equal(await portSeenByChild(first.handle), ws.port);
  assert.equal(await listening(ws.port), true, "the daemon's descriptor was not closed by the send");
  const fd = ws.fd;
  ws.close();
  // Closed, the number may name another socket next: the old pipe is not lent for it.
  const after = rawDescriptorHandle(fd);
  assert.ok(!after.ok || after.handle !== first.handle, 'the pipe of a closed socket was lent again');
  // Handed to a net.Server (which then owns and watches the descriptor), the pipe is let go as
  // well: the descriptor is busy, as any other a server accepts on.
  const handed = WaitSocket.open({ transport: 'tcp', host: '127.0.0.1', family: 4, port: 0, v6only: false });
  assert.ok(rawDescriptorHandle(handed.fd).ok);
  const server = net.createServer((sock) => sock.destroy());
  acceptOn(server, handed);
  t.after(() => server.close());
  assert.deepEqual(rawDescriptorHandle(handed.fd), { ok: false, why: 'busy' });
});

/** A server socket accepted without reading (as the daemon's listeners accept) and its client. */
async function pausedPair(t: TestContext): Promise<{ sock: net.Socket; client: net.Socket }> {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => {});
  t.after(() => client.destroy());
  const sock = await accepted;
  sock.on('error', () => {});
  t.after(() => sock.destroy());
  return { sock, client };
}

/** What a fresh Node process reads from the connection `handle` until the peer ends it. */
async function bytesReadByChild(handle: object): Promise<string> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      // A bare handle arrives as Node's TCP wrap: read its descriptor through a socket of its own.
      `process.on('message', (m, h) => {
         const s = new (require('node:net').Socket)({ fd: h.fd, readable: true });
         const got = [];
         s.on('data', (d) => got.push(d));
         s.on('end', () => process.send({ text: Buffer.concat(got).toString('latin1') }, () => process.exit(0)));
       });`,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' },
  );
  try {
    const reply = new Promise<{ text: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { text: string }));
      child.once('exit', (code) => reject(new Error(`child exited (${String(code)}) without answering`)));
    });
    child.send({ cmd: 'take' }, handle as net.Socket, SEND_OPTIONS);
    return (await reply).text;
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

test('readAtMost: one read of at most N bytes; what the client sent beyond stays for the next reader', async (t) => {
  const { sock, client } = await pausedPair(t);
  const sent = 'x'.repeat(1022) + '\r\n' + 'for the program\n';
  // One write, whole in the kernel before the read (loopback delivers it at once).
  await new Promise<void>((resolve) => client.write(sent, () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const once = readAtMost(sock, 1024);
  if (once === null) {
    t.skip("this Node's sockets have not the shape readAtMost uses: the daemon reads with 'data'");
    return;
  }
  const first = await once;
  assert.equal(first?.toString('latin1'), sent.slice(0, 1024));
  const handle = socketHandle(sock);
  assert.ok(handle !== null);
  const child = bytesReadByChild(handle);
  setTimeout(() => client.end(), 200);
  assert.equal(await child, 'for the program\n');
});

test('readAtMost: a client that ends first gives null; switched off, there is no such read', async (t) => {
  const { sock, client } = await pausedPair(t);
  client.end();
  const once = readAtMost(sock, 1024);
  if (once === null) {
    t.skip("this Node's sockets have not the shape readAtMost uses");
    return;
  }
  assert.equal(await once, null);
  const other = await pausedPair(t);
  useNodeInternals(false);
  try {
    assert.equal(readAtMost(other.sock, 1024), null);
  } finally {
    useNodeInternals(true);
  }
});

test('a descriptor the event loop watches is busy either way; the fallback cannot hold a datagram socket', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const fd = descriptorOf(server);
  assert.ok(fd !== null);
  if (nodePipeBinding() !== null) assert.deepEqual(rawDescriptorHandle(fd), { ok: false, why: 'busy' });
  assert.deepEqual(rawDescriptorHandle(fd, NO_BINDING), { ok: false, why: 'busy' });
  const udp = WaitSocket.open({ transport: 'udp', host: '127.0.0.1', family: 4, port: 0, v6only: false });
  t.after(() => udp.close());
  assert.deepEqual(rawDescriptorHandle(udp.fd, NO_BINDING), { ok: false, why: 'unsupported' });
  if (nodePipeBinding() !== null) assert.equal(rawDescriptorHandle(udp.fd).ok, true);
});

test('switched off (as on a Node without them), every internal answers "none", and switching back restores them', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  t.after(() => udp.close());
  const on = {
    bindings: uvBindings() !== null,
    pausable: pausableHandle(server) !== null,
    serverFd: descriptorOf(server),
    udpFd: descriptorOf(udp),
  };
  if (!on.bindings) {
    t.skip('this Node has no libuv handle bindings: only the fallbacks run');
    return;
  }
  assert.ok(on.pausable && on.serverFd !== null && on.udpFd !== null && on.serverFd !== on.udpFd, JSON.stringify(on));
  useNodeInternals(false);
  try {
    assert.equal(nodeInternals(), false);
    assert.equal(uvBindings(), null);
    assert.equal(nodePipeBinding(), null);
    assert.equal(pausableHandle(server), null);
    assert.equal(descriptorOf(server), null);
    assert.equal(descriptorOf(udp), null);
    assert.equal(WaitSocket.supported(), false);
    assert.throws(() => WaitSocket.open({ transport: 'udp', host: '127.0.0.1', family: 4, port: 0, v6only: false }), { code: 'ENOTSUP' });
  } finally {
    useNodeInternals(true);
  }
  assert.equal(nodeInternals(), true);
  assert.deepEqual(
    { bindings: uvBindings() !== null, pausable: pausableHandle(server) !== null, serverFd: descriptorOf(server), udpFd: descriptorOf(udp) },
    on,
  );
});

test("without the internals a stream listener still serves, by Node's own listen(), and cannot pause; a wait = yes one is not made", async (t) => {
  useNodeInternals(false);
  t.after(() => useNodeInternals(true));
  const streams: net.Socket[] = [];
  const events = {
    stream: (_l: Listener, socket: net.Socket) => {
      streams.push(socket);
      socket.resume();
      socket.end('served\n');
    },
    accepted: () => assert.fail('nothing accepts for this listener but the daemon'),
    datagram: () => {},
    waitReady: () => {},
    error: (_l: Listener, err: Error) => assert.fail(err),
    bindRetried: () => {},
  } satisfies ListenerEvents;
  const plan = (mode: ListenPlan['mode']): ListenPlan => ({ mode, transport: 'tcp', port: 0, host: '127.0.0.1', family: 4, v6only: false });
  // A service whose limit queues (FreeBSD max-child), so that its listener would pause if it could.
  const service: Service = Object.assign(newService('fallback', 'inetd', { file: 't.conf', line: 1 }), {
    server: '/bin/cat',
    server_argv: ['cat'],
    instances: 1,
    instances_at_limit: 'queue' as const,
  });
  const stream = new Listener(service, plan('stream'), events);
  t.after(() => stream.close());
  await stream.open();
  assert.equal(stream.state, 'active');
  assert.ok(stream.port > 0);
  const reply = await tcpRequest({ port: stream.port });
  assert.equal(reply.data.toString(), 'served\n');
  assert.equal(streams.length, 1);
  // A pause is recorded but cannot stop Node's accepting: the next client is still accepted here
  // (queue-limit.ts then holds it in the daemon).
  stream.setAccepting(false);
  assert.equal((await tcpRequest({ port: stream.port })).data.toString(), 'served\n');
  assert.equal(streams.length, 2);

  const wait = new Listener(service, plan('stream-wait'), events);
  t.after(() => wait.close());
  await assert.rejects(wait.open(), { code: 'ENOTSUP' });
});

test('libuv bindings of another shape, or none, count as missing', { skip: loadBindings() === null ? 'this Node has no libuv handle bindings' : false }, () => {
  const real = (process as unknown as { binding(name: string): Record<string, unknown> }).binding.bind(process);
  assert.ok(loadBindings(real) !== null);
  assert.equal(loadBindings(null), null);
  assert.equal(
    loadBindings(() => {
      throw new Error('No such module: udp_wrap');
    }),
    null,
  );
  // pipe_wrap's Pipe without one method wait-socket.ts calls (a changed Node).
  class Pipe {
    open(): number {
      return 0;
    }
  }
  assert.equal(
    loadBindings((name) => (name === 'pipe_wrap' ? { Pipe, constants: {} } : real(name))),
    null,
  );
  // A constructor missing altogether.
  assert.equal(
    loadBindings((name) => (name === 'tcp_wrap' ? { constants: {} } : real(name))),
    null,
  );
});
