// The handles the native spawner sends (src/sys/uv-handles.ts), with Node's pipe_wrap binding and
// with the public fallback used when that binding is gone: a real descriptor is sent to a real
// child process, which sees the same listening socket, and the daemon's copy stays open.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { nodePipeBinding, rawDescriptorHandle, SEND_OPTIONS, socketHandle } from '../../../src/sys/uv-handles.js';
import { WaitSocket } from '../../../src/serve/wait-socket.js';

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

test('a descriptor the event loop watches is busy either way; the fallback cannot hold a datagram socket', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  if (nodePipeBinding() !== null) assert.deepEqual(rawDescriptorHandle(fd), { ok: false, why: 'busy' });
  assert.deepEqual(rawDescriptorHandle(fd, NO_BINDING), { ok: false, why: 'busy' });
  const udp = WaitSocket.open({ transport: 'udp', host: '127.0.0.1', family: 4, port: 0, v6only: false });
  t.after(() => udp.close());
  assert.deepEqual(rawDescriptorHandle(udp.fd, NO_BINDING), { ok: false, why: 'unsupported' });
  if (nodePipeBinding() !== null) assert.equal(rawDescriptorHandle(udp.fd).ok, true);
});
