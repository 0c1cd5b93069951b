// The native spawner for real: tsinetd-spawnd started over Node's IPC channel, real accepted
// loopback sockets passed to it, real programs exec'd, and the results read back from the
// programs themselves (/proc) and from the helper's own /proc entries.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn as startProcess, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNativeSpawner, type NativeSpawner } from '../../../src/spawn/native/spawn-native.js';
import { NativeSpawnError } from '../../../src/spawn/native/spawn-native-errors.js';
import type { ChildStdio, ExitInfo, SpawnSpec } from '../../../src/spawn/spawn-types.js';
import { WaitSocket } from '../../../src/serve/wait-socket.js';
import { alive } from '../../helpers/daemon.js';
import { childrenOf } from '../../helpers/proc.js';
import { noHelper, usableHelper } from '../../helpers/spawnd.js';
import { stagedPath, stageForOthers } from '../../helpers/stage.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const PROBE = join(ROOT, 'fixtures', 'servers', 'native-probe');
const HELPER = usableHelper() ?? '/nonexistent/tsinetd-spawnd';
const NOT_BUILT = noHelper();
const NOT_ROOT = NOT_BUILT || (process.getuid?.() === 0 ? false : 'needs root (switching uid, gid and groups)');
const WAIT_MS = 5000;

function spec(path: string, argv: string[], over: Partial<SpawnSpec> = {}): SpawnSpec {
  return {
    path,
    argv,
    env: ['PATH=/usr/local/bin:/usr/bin:/bin'],
    uid: null,
    gid: null,
    groups: null,
    umask: 0o022,
    nice: null,
    rlimits: {},
    ...over,
  };
}

/** Rejects after ms with `what`, so that no wait in these tests can hang. */
function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function until(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Harness {
  spawner: NativeSpawner;
  exits: ExitInfo[];
  warnings: string[];
  /**
   * Connects a client, spawns `s` on the accepted socket, and returns the pid and what the client
   * read. `justAsked` runs right after the spawn was asked for, before its answer.
   */
  serve(s: SpawnSpec, clientSends?: string, justAsked?: () => void): Promise<{ pid: number; output: Promise<string> }>;
}

async function harness(t: TestContext, forkChildren = false): Promise<Harness> {
  const warnings: string[] = [];
  const exits: ExitInfo[] = [];
  const spawner = await startNativeSpawner({ helperPath: HELPER, onWarning: (m) => warnings.push(m), forkChildren });
  // Clone unless fork was asked for, or the kernel lacks close_range (then both modes fork).
  if (forkChildren) assert.equal(spawner.childStart, 'fork');
  else if (spawner.childStart !== 'clone') t.diagnostic(`children start with ${String(spawner.childStart)}: no close_range(2) here`);
  assert.ok(spawner.childStart === 'clone' || spawner.childStart === 'fork');
  spawner.onExit((info) => exits.push(info));
  const accepted: net.Socket[] = [];
  const server = net.createServer({ pauseOnConnect: true }, (sock) => accepted.push(sock));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const clients: net.Socket[] = [];
  t.after(async () => {
    for (const c of clients) c.destroy();
    for (const s of accepted) s.destroy();
    await new Promise((r) => server.close(r));
    await spawner.close();
  });

  const nextAccepted = (): Promise<net.Socket> =>
    new Promise((resolve) => {
      const take = () => (accepted.length > 0 ? resolve(accepted.shift() as net.Socket) : setTimeout(take, 2));
      take();
    });

  async function serve(s: SpawnSpec, clientSends = '', justAsked?: () => void): Promise<{ pid: number; output: Promise<string> }> {
    const client = net.connect(port, '127.0.0.1');
    clients.push(client);
    const chunks: Buffer[] = [];
    const output = within(
      new Promise<string>((resolve, reject) => {
        client.on('data', (d: Buffer) => chunks.push(d));
        client.on('error', reject);
        client.on('close', () => resolve(Buffer.concat(chunks).toString()));
      }),
      `output of ${s.path}`,
    );
    output.catch(() => {}); // awaited by the caller; not an unhandled rejection meanwhile
    if (clientSends !== '') client.write(clientSends);
    const sock = await within(nextAccepted(), 'accept');
    try {
      const spawned = spawner.spawn(s, sock);
      justAsked?.();
      const pid = await within(spawned, `spawn ${s.path}`);
      return { pid, output };
    } finally {
      sock.destroy(); // the caller's copy, as the daemon does once spawn() settles
    }
  }

  return { spawner, exits, warnings, serve };
}

/** "key:value" lines of the probe fixture. */
function report(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const key = line.slice(0, i);
    out.set(key, [...(out.get(key) ?? []), line.slice(i + 1)]);
  }
  return out;
}

function one(r: Map<string, string[]>, key: string): string {
  const v = r.get(key);
  assert.ok(v !== undefined && v.length === 1, `expected one "${key}" line, got ${JSON.stringify(v)}`);
  return v[0] as string;
}

/** The helper's descriptors below 16 (those above may be inherited from whoever ran the tests). */
function lowFds(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`)
    .map(Number)
    .filter((fd) => fd < 16)
    .sort((a, b) => a - b);
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

test('the accepted socket becomes fds 0, 1 and 2, blocking, and the caller may destroy its copy at once', { skip: NOT_BUILT }, async (t) => {
  const h = await harness(t);
  const { pid, output } = await h.serve(spec(PROBE, ['native-probe']), 'hello from the client\n');
  const text = await output;
  const lines = text.split('\n');
  assert.deepEqual(lines.slice(0, 4), ['fd0', 'fd1', 'fd2', 'echo:hello from the client'], text);
  const r = report(text);
  assert.ok(text.endsWith('end\n'), text);
  const fds = new Map([...text.matchAll(/ (\d+) -> (.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));
  const sock = fds.get('0');
  assert.match(sock ?? '', /^socket:\[\d+\]$/);
  assert.equal(fds.get('1'), sock);
  assert.equal(fds.get('2'), sock);
  for (const [fd, target] of fds) {
    // the shell's own descriptor on its script is the only other one
    if (!['0', '1', '2'].includes(fd)) assert.equal(target, PROBE, `descriptor ${fd} leaked into the server: ${target}`);
  }
  assert.equal(parseInt(one(r, 'flags'), 8) & 0o4000, 0, 'O_NONBLOCK must be cleared on the socket');
  assert.equal(one(r, 'pid'), String(pid));
  assert.equal(one(r, 'sid'), String(pid), 'the server leads its own session (setsid)');
  assert.equal(one(r, 'cwd'), '/');
  assert.equal(one(r, 'SigBlk'), '0000000000000000');
  assert.equal(one(r, 'SigIgn'), '0000000000000000', 'the helper ignores SIGINT/SIGHUP/SIGPIPE; its servers must not');
  await until(() => h.exits.some((e) => e.pid === pid), 'exit report');
  assert.deepEqual(
    h.exits.find((e) => e.pid === pid),
    { pid, code: 0, signal: null },
  );
  assert.deepEqual(h.warnings, []);
});

test('argv (argv[0] included) and env reach the program exactly as given, with no shell in between', { skip: NOT_BUILT }, async (t) => {
  const h = await harness(t);
  const argv = ['custom-name', '-c', 'tr "\\0" "\\n" < /proc/$$/cmdline; echo ---; tr "\\0" "\\n" < /proc/$$/environ; exit 0', 'a b', '$HOME', '*', "it's", ''];
  const env = ['PATH=/usr/bin:/bin', 'SPACED=two  words', 'EMPTY=', 'DOLLAR=$HOME;`id`', 'UTF8=é✓'];
  const { output } = await h.serve(spec('/bin/sh', argv, { env }));
  // `exit 0` keeps the shell from exec'ing the last tr, so $$ stays the shell itself.
  const [args, vars] = (await output).split('---\n');
  assert.deepEqual(args, argv.join('\n') + '\n');
  assert.deepEqual(vars, env.join('\n') + '\n');
});

test('a large request (300 kB environment) arrives whole across several reads', { skip: NOT_BUILT }, async (t) => {
  const h = await harness(t);
  // One string may not exceed 128 kB (MAX_ARG_STRLEN), so four of 75 kB.
  const big = ['1', '2', '3', '4'].map((n) => `BIG${n}=${n.repeat(75_000)}`);
  const script = 'printf %s "$BIG1$BIG2$BIG3$BIG4" | wc -c; printf %s "$BIG4" | tr -d 4 | wc -c';
  const { output } = await h.serve(spec('/bin/sh', ['sh', '-c', script], { env: ['PATH=/usr/bin:/bin', ...big] }));
  assert.deepEqual((await output).split(/\s+/).filter(Boolean), ['300000', '0']);
});

// The child's set-up, with each way the helper starts a child: clone(CLONE_VM | CLONE_VFORK),
// the default, and fork (kernels without close_range, or TSINETD_SPAWND_FORK=1).
for (const forked of [false, true]) {
  const how = forked ? ' (children forked)' : '';
  test(`uid, gid and the supplementary groups are switched${how}`, { skip: NOT_ROOT }, async (t) => {
    const h = await harness(t, forked);
    const probe = stagedPath(stageForOthers(t, [PROBE]), PROBE); // nobody may not enter the checkout
    const withGroups = await h.serve(spec(probe, ['native-probe'], { uid: 65534, gid: 1, groups: [4, 1, 65534] }), '\n');
    const r1 = report(await withGroups.output);
    assert.equal(one(r1, 'Uid'), '65534 65534 65534 65534');
    assert.equal(one(r1, 'Gid'), '1 1 1 1');
    assert.deepEqual(
      one(r1, 'Groups')
        .split(' ')
        .map(Number)
        .sort((a, b) => a - b),
      [1, 4, 65534],
    );

    // A uid switch without a list drops the daemon's groups (xinetd: setgroups(0, NULL)).
    const dropped = await h.serve(spec(probe, ['native-probe'], { uid: 65534, gid: 65534, groups: null }), '\n');
    const r2 = report(await dropped.output);
    assert.equal(one(r2, 'Uid'), '65534 65534 65534 65534');
    assert.equal(one(r2, 'Gid'), '65534 65534 65534 65534');
    assert.equal(one(r2, 'Groups'), '');
  });

  test(`umask, nice and rlimits are applied${how}`, { skip: NOT_BUILT }, async (t) => {
    const h = await harness(t, forked);
    const { output } = await h.serve(
      spec(PROBE, ['native-probe'], {
        umask: 0o027,
        nice: 5,
        rlimits: { files: 77, as: 209_715_200, cpu: 30, stack: 'unlimited' },
      }),
      '\n',
    );
    const r = report(await output);
    assert.equal(one(r, 'Umask'), '0027');
    assert.equal(Number(one(r, 'nice')), Math.min(19, 5 + Number(readFileSync('/proc/self/stat', 'latin1').split(') ')[1]?.split(' ')[16])));
    const limits = new Set(r.get('limit'));
    assert.ok(limits.has('open files:77:77'), [...limits].join('\n'));
    assert.ok(limits.has('address space:209715200:209715200'), [...limits].join('\n'));
    assert.ok(limits.has('cpu time:30:30'), [...limits].join('\n'));
    assert.ok(limits.has('stack size:unlimited:unlimited'), [...limits].join('\n'));
  });

  test(`as in xinetd, nice and rlimits come after the switch to the service user${how}`, { skip: NOT_ROOT }, async (t) => {
    // Measured on xinetd 2.3.15.3: user = nobody with nice = -5 runs at nice 0, and an
    // rlimit_files above the hard limit keeps the old limit, silently.
    const h = await harness(t);
    const probe = stagedPath(stageForOthers(t, [PROBE]), PROBE);
    const hard = Number(/Max open files\s+\S+\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'latin1'))?.[1]);
    assert.ok(Number.isInteger(hard), 'hard NOFILE limit of the test process');
    const { output } = await h.serve(spec(probe, ['native-probe'], { uid: 65534, gid: 65534, nice: -5, rlimits: { files: hard + 1000 } }), '\n');
    const r = report(await output);
    assert.equal(one(r, 'Uid'), '65534 65534 65534 65534');
    assert.ok(Number(one(r, 'nice')) >= 0, `nice ${one(r, 'nice')}`);
    assert.ok(new Set(r.get('limit')).has(`open files:${hard}:${hard}`), (r.get('limit') ?? []).join('\n'));
  });

  test(`a program that cannot be executed is reported, and the helper keeps serving${how}`, { skip: NOT_BUILT }, async (t) => {
    const h = await harness(t, forked);
    await assert.rejects(h.serve(spec('/nonexistent/program', ['program'])), (err: unknown) => {
      assert.ok(err instanceof NativeSpawnError);
      assert.equal(err.code, 'ENOENT');
      assert.equal(err.stage, 'exec');
      assert.equal(err.syscall, 'execve');
      assert.match(err.message, /^cannot exec \/nonexistent\/program: .*\(ENOENT\)$/);
      return true;
    });
    await assert.rejects(h.serve(spec('/etc/passwd', ['passwd'])), { code: 'EACCES', stage: 'exec' });
    await assert.rejects(h.serve(spec('/etc', ['etc'])), { code: 'EACCES', stage: 'exec' });
    const ok = await h.serve(spec('/bin/echo', ['echo', 'still serving']));
    assert.equal(await ok.output, 'still serving\n');
    await until(() => h.exits.length > 0, 'exit of echo');
    await new Promise((r) => setTimeout(r, 100));
    // Failed spawns never reach the caller as exits (their pids were never given out).
    assert.deepEqual(h.exits, [{ pid: ok.pid, code: 0, signal: null }]);
    assert.deepEqual(h.warnings, []);
  });
}

test('bad specs are refused before they reach the helper', { skip: NOT_BUILT }, async (t) => {
  const h = await harness(t);
  const sockless = new net.Socket();
  await assert.rejects(h.spawner.spawn(spec('/bin/true', ['true']), sockless), { code: 'EBADF' });
  await assert.rejects(h.serve(spec('/bin/true', [])), { code: 'EINVAL' });
  await assert.rejects(h.serve(spec('/bin/true', ['tr\0ue'])), { code: 'EINVAL' });
  await assert.rejects(h.serve(spec('/bin/true', ['true'], { umask: 0o1000 })), { code: 'EINVAL' });
  const ok = await h.serve(spec('/bin/echo', ['echo', 'ok']));
  assert.equal(await ok.output, 'ok\n');
});

test('exit statuses and signals are reported, and kill() reaches the server', { skip: NOT_BUILT }, async (t) => {
  const h = await harness(t);
  const exited = await h.serve(spec('/bin/sh', ['sh', '-c', 'exit 7']));
  const signalled = await h.serve(spec('/bin/sh', ['sh', '-c', 'kill -TERM $$']));
  const sleeper = await h.serve(spec('/bin/sleep', ['sleep', '30']));
  const sleeper2 = await h.serve(spec('/bin/sleep', ['sleep', '30']));
  h.spawner.kill(sleeper.pid, 'SIGKILL');
  h.spawner.kill(sleeper2.pid, 1); // SIGHUP by number
  h.spawner.kill(1, 'SIGTERM'); // not ours: ignored
  await until(() => h.exits.length === 4, 'four exits');
  const byPid = new Map(h.exits.map((e) => [e.pid, e]));
  assert.deepEqual(byPid.get(exited.pid), { pid: exited.pid, code: 7, signal: null });
  assert.deepEqual(byPid.get(signalled.pid), { pid: signalled.pid, code: null, signal: 15 });
  assert.deepEqual(byPid.get(sleeper.pid), { pid: sleeper.pid, code: null, signal: 9 });
  assert.deepEqual(byPid.get(sleeper2.pid), { pid: sleeper2.pid, code: null, signal: 1 });
});

test('500 spawns leave no descriptor open in the helper and no zombie', { skip: NOT_BUILT }, async (t) => {
  const h = await harness(t);
  const helperPid = h.spawner.helperPid as number;
  const before = fdCount(helperPid);
  const pids: number[] = [];
  const total = 500;
  let next = 0;
  async function worker(): Promise<void> {
    while (next < total) {
      next++;
      const { pid, output } = await h.serve(spec('/bin/true', ['true']));
      pids.push(pid);
      await output;
    }
  }
  await within(Promise.all(Array.from({ length: 16 }, worker)), '500 spawns', 60_000);
  await until(() => h.exits.length === total, `${total} exits (got ${h.exits.length})`);
  assert.equal(new Set(h.exits.map((e) => e.pid)).size, total, 'each pid reported once');
  assert.ok(h.exits.every((e) => e.code === 0 && e.signal === null));
  assert.equal(fdCount(helperPid), before, `helper descriptors: ${readdirSync(`/proc/${helperPid}/fd`).join(' ')}`);
  assert.deepEqual(childrenOf(helperPid), [], 'children (zombies) left under the helper');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${helperPid}/status`, 'latin1'))?.[1]);
  assert.ok(rssKb < 8192, `helper RSS ${rssKb} kB`);
});

/** The descriptor behind a socket of this process, as its /proc link (socket:[inode]). */
function socketLink(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

function dgramFd(socket: dgram.Socket): number {
  for (const sym of Object.getOwnPropertySymbols(socket)) {
    const state = (socket as unknown as Record<symbol, { handle?: { fd?: number } } | undefined>)[sym];
    if (typeof state?.handle?.fd === 'number') return state.handle.fd;
  }
  throw new Error('no fd found on the dgram socket');
}

test('wait = yes sockets (listening TCP, bound UDP, raw descriptor) become fds 0-2 and stay open in the daemon', { skip: NOT_BUILT }, async (t) => {
  const warnings: string[] = [];
  const spawner = await startNativeSpawner({ helperPath: HELPER, onWarning: (m) => warnings.push(m) });
  const exits: ExitInfo[] = [];
  spawner.onExit((e) => exits.push(e));
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  t.after(async () => {
    await spawner.close();
    await new Promise((r) => server.close(r));
    udp.close();
  });
  // What the daemon uses for wait = yes: sockets on bare libuv handles, passed as { fd }.
  const waitTcp = WaitSocket.open({ transport: 'tcp', host: '127.0.0.1', family: 4, port: 0, v6only: false });
  const waitUdp = WaitSocket.open({ transport: 'udp', host: '127.0.0.1', family: 4, port: 0, v6only: false });
  t.after(() => {
    waitTcp.close();
    waitUdp.close();
  });
  const serverFd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const cases: Array<[string, ChildStdio, string]> = [
    ['net.Server', server, socketLink(serverFd)],
    ['dgram.Socket', udp, socketLink(dgramFd(udp))],
    ['raw tcp', { fd: waitTcp.fd }, socketLink(waitTcp.fd)],
    ['raw udp', { fd: waitUdp.fd }, socketLink(waitUdp.fd)],
  ];
  for (const [name, stdio, expected] of cases) {
    // Read from outside while the server runs: a shell's own redirections would get in the way.
    const pid = await within(spawner.spawn(spec('/bin/sleep', ['sleep', '10']), stdio), `spawn with the ${name} socket`);
    const links = [0, 1, 2].map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`));
    spawner.kill(pid, 'SIGKILL');
    await until(() => exits.some((e) => e.pid === pid), `exit of the ${name} server`);
    assert.deepEqual(links, [expected, expected, expected], name);
  }
  // The daemon's sockets are still there.
  assert.ok(server.listening);
  assert.equal(socketLink(serverFd), cases[0]?.[2]);
  assert.equal(socketLink(waitTcp.fd), cases[2]?.[2]);
  // A descriptor the event loop is watching cannot be wrapped: a clear refusal.
  await assert.rejects(spawner.spawn(spec('/bin/true', ['true']), { fd: serverFd }), { code: 'EBUSY' });
  assert.deepEqual(warnings, []);
});

test('peekSender: the sender of the first queued datagram, which stays queued; null when none; a stream socket is refused', { skip: NOT_BUILT }, async (t) => {
  const warnings: string[] = [];
  const spawner = await startNativeSpawner({ helperPath: HELPER, onWarning: (m) => warnings.push(m) });
  const ws = WaitSocket.open({ transport: 'udp', host: '127.0.0.1', family: 4, port: 0, v6only: false });
  const tcp = WaitSocket.open({ transport: 'tcp', host: '127.0.0.1', family: 4, port: 0, v6only: false });
  const client = dgram.createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.2', r));
  t.after(async () => {
    client.close();
    ws.close();
    tcp.close();
    await spawner.close();
  });
  assert.equal(await within(spawner.peekSender(ws.fd), 'peek at an empty socket'), null);
  const other = dgram.createSocket('udp4');
  await new Promise<void>((r) => other.bind(0, '127.0.0.1', r));
  t.after(() => other.close());
  // A zero-length datagram first (the peek reads into one byte, MSG_TRUNC), then a large one.
  await new Promise<void>((r) => client.send(Buffer.alloc(0), ws.port, '127.0.0.1', () => r()));
  await new Promise<void>((r) => other.send(Buffer.alloc(9000, 1), ws.port, '127.0.0.1', () => r()));
  // (On loopback a datagram is queued at the receiver by the time send() completes.)
  const expected = { address: '127.0.0.2', port: client.address().port, family: 'IPv4' };
  // Peeking twice gives the same sender: nothing was read.
  assert.deepEqual(await within(spawner.peekSender(ws.fd), 'first peek'), expected);
  assert.deepEqual(await within(spawner.peekSender(ws.fd), 'second peek'), expected);
  assert.equal(await ws.drain(), 2, 'both datagrams were still queued');
  assert.equal(await within(spawner.peekSender(ws.fd), 'peek after the drain'), null);
  await assert.rejects(within(spawner.peekSender(tcp.fd), 'peek at a stream socket'), { code: 'ENOTSOCK' });
  // The helper keeps none of the descriptors it was sent.
  const helperFds = readdirSync(`/proc/${spawner.helperPid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${spawner.helperPid}/fd/${fd}`);
    } catch {
      return '';
    }
  });
  assert.ok(!helperFds.includes(socketLink(ws.fd)), helperFds.join(' '));
  assert.deepEqual(warnings, []);
});

test('the helper ends when the daemon closes the channel, leaving the servers running', { skip: NOT_BUILT }, async (t) => {
  const h = await harness(t);
  const helperPid = h.spawner.helperPid as number;
  const { pid } = await h.serve(spec('/bin/sleep', ['sleep', '30']));
  t.after(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  await within(h.spawner.close(), 'close');
  await until(() => !alive(helperPid), 'helper exit');
  assert.ok(alive(pid), 'the server must outlive the spawner');
  await assert.rejects(h.spawner.spawn(spec('/bin/true', ['true']), new net.Socket()), { code: 'ECANCELED' });
});

test('a spawn asked for just before close() is answered with its pid, not cancelled while its server runs', { skip: NOT_BUILT }, async (t) => {
  const h = await harness(t);
  let closing: Promise<void> | null = null;
  const { pid } = await h.serve(spec('/bin/sleep', ['sleep', '30']), '', () => {
    closing = h.spawner.close();
  });
  t.after(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  await within(closing!, 'close');
  assert.ok(alive(pid), 'the server the answer names is running');
});

test('servers signalled just before close() are reaped by the helper, not left as zombies', { skip: NOT_BUILT }, async (t) => {
  const h = await harness(t);
  const { pid } = await h.serve(spec('/bin/sleep', ['sleep', '30']));
  t.after(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  h.spawner.kill(pid, 'SIGTERM'); // what the daemon does on SIGTERM, right before closing
  await within(h.spawner.close(), 'close');
  // Gone entirely: a zombie would still have its /proc entry (some inits never reap orphans).
  assert.equal(existsSync(`/proc/${pid}`), false);
});

test('the helper ends when the daemon process dies', { skip: NOT_BUILT }, async (t) => {
  const module = join(ROOT, 'build', 'src', 'spawn', 'native', 'spawn-native.js');
  const daemon: ChildProcess = startProcess(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(module)});
       const s = await m.startNativeSpawner({ helperPath: ${JSON.stringify(HELPER)} });
       process.stdout.write(String(s.helperPid) + '\\n');
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => {
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
  });
  const line = await within(
    new Promise<string>((resolve) => {
      let buf = '';
      daemon.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(buf.trim());
      });
    }),
    'helper pid from the daemon process',
  );
  const helperPid = Number(line);
  assert.ok(Number.isInteger(helperPid) && alive(helperPid), line);
  daemon.kill('SIGKILL');
  await until(() => !alive(helperPid), 'helper exit');
});

test('a helper that dies is replaced on the next spawn; its servers are still reported when they end', { skip: NOT_BUILT }, async (t) => {
  const h = await harness(t);
  const first = h.spawner.helperPid as number;
  const orphan = await h.serve(spec('/bin/sleep', ['sleep', '0.3']));
  process.kill(first, 'SIGKILL');
  await until(() => h.warnings.some((w) => w.includes('spawn helper')), 'warning about the helper');
  assert.match(h.warnings[0] ?? '', /exited \(signal SIGKILL\).*1 running server/);
  const again = await h.serve(spec('/bin/echo', ['echo', 'restarted']));
  assert.equal(await again.output, 'restarted\n');
  assert.notEqual(h.spawner.helperPid, first);
  await until(() => h.exits.some((e) => e.pid === orphan.pid), 'orphan reported');
  assert.deepEqual(
    h.exits.find((e) => e.pid === orphan.pid),
    { pid: orphan.pid, code: null, signal: null },
  );
});

// ---- the helper's protocol, spoken directly ----------------------------------------------

interface RawHelper {
  child: ChildProcess;
  messages: unknown[];
  next(pred: (m: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
}

async function rawHelper(t: TestContext, command: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RawHelper> {
  const child = startProcess(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  const messages: unknown[] = [];
  const waiters: Array<() => void> = [];
  child.on('message', (m) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  t.after(() => {
    if (child.connected) child.disconnect();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let seen = 0;
  const next = (pred: (m: Record<string, unknown>) => boolean, what: string) =>
    within(
      new Promise<Record<string, unknown>>((resolve) => {
        const look = () => {
          while (seen < messages.length) {
            const m = messages[seen++] as Record<string, unknown>;
            if (pred(m)) {
              resolve(m);
              return;
            }
          }
          waiters.push(look);
        };
        look();
      }),
      what,
    );
  await next((m) => m['t'] === 'ready', 'ready');
  return { child, messages, next };
}

test('the helper answers malformed requests with errors or warnings and keeps every descriptor balanced', { skip: NOT_BUILT }, async (t) => {
  const raw = await rawHelper(t, HELPER);
  const pid = raw.child.pid as number;
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  const before = fdCount(pid);

  raw.child.send('just a string');
  raw.child.send([1, 2, 3]);
  raw.child.send({ cmd: 'nope' });
  raw.child.send({ cmd: 'kill', pid: 'x' });
  for (let i = 0; i < 4; i++) await raw.next((m) => m['t'] === 'warn', `warning ${i + 1}`);
  raw.child.send({ cmd: 'spawn', id: 3, path: '/bin/true', argv: ['true'], env: [], umask: 18 });
  assert.deepEqual(await raw.next((m) => m['t'] === 'error', 'no socket'), {
    t: 'error',
    id: 3,
    pid: null,
    stage: 'request',
    errno: 9,
    message: 'spawn request without a socket',
  });
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ path: '' }, /path/],
    [{ argv: [] }, /argv/],
    [{ env: 'A=1' }, /env/],
    [{ uid: -1 }, /uid/],
    [{ groups: [1, 'x'] }, /groups/],
    [{ umask: 4096 }, /umask/],
    [{ nice: 1.5 }, /nice/],
    [{ rlimits: { core: 0 } }, /unknown rlimit/],
    [{ rlimits: { files: -1 } }, /rlimit files/],
  ];
  let id = 10;
  for (const [override, why] of bad) {
    const msg = {
      cmd: 'spawn',
      id: ++id,
      path: '/bin/true',
      argv: ['true'],
      env: [],
      uid: null,
      gid: null,
      groups: null,
      umask: 18,
      nice: null,
      rlimits: {},
      ...override,
    };
    raw.child.send(msg, server);
    const answer = await raw.next((m) => m['t'] === 'error', `error for ${JSON.stringify(override)}`);
    assert.equal(answer['id'], id);
    assert.equal(answer['stage'], 'request');
    assert.match(String(answer['message']), why);
  }
  raw.child.send({ cmd: 'ping', id: 99 });
  assert.deepEqual(await raw.next((m) => m['t'] === 'pong', 'pong'), { t: 'pong', id: 99, children: 0 });
  assert.equal(fdCount(pid), before, 'descriptors that came with refused requests are closed');
});

test('at its descriptor limit the helper reports EMFILE for the spawn and keeps serving', { skip: NOT_BUILT }, async (t) => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  const request = (id: number) => ({
    cmd: 'spawn',
    id,
    path: '/bin/true',
    argv: ['true'],
    env: [],
    uid: null,
    gid: null,
    groups: null,
    umask: 18,
    nice: null,
    rlimits: {},
  });

  // 0-2, the channel and the SIGCHLD signalfd use 0-4: with 5 the socket itself cannot arrive.
  const five = await rawHelper(t, '/bin/sh', ['-c', 'ulimit -n 5 && exec "$0"', HELPER]);
  assert.deepEqual(lowFds(five.child.pid as number), [0, 1, 2, 3, 4], 'precondition: the helper uses fds 0-4');
  five.child.send(request(1), server);
  const lost = await five.next((m) => m['t'] === 'error', 'EMFILE on receipt');
  assert.deepEqual({ id: lost['id'], stage: lost['stage'], errno: lost['errno'] }, { id: 1, stage: 'recv', errno: 24 });
  five.child.send({ cmd: 'ping', id: 2 });
  await five.next((m) => m['t'] === 'pong', 'pong after EMFILE');

  // With 6 the socket arrives. A child started with clone needs nothing more: it is served.
  const six = await rawHelper(t, '/bin/sh', ['-c', 'ulimit -n 6 && exec "$0"', HELPER]);
  six.child.send(request(1), server);
  await six.next((m) => m['t'] === 'spawned' && m['id'] === 1, 'spawned with one descriptor to spare');
  await six.next((m) => m['t'] === 'exit', 'its exit');
  assert.deepEqual(lowFds(six.child.pid as number), [0, 1, 2, 3, 4], 'the received socket was closed');

  // A forked child needs a pipe for its exec report, which cannot be made.
  const forked = await rawHelper(t, '/bin/sh', ['-c', 'ulimit -n 6 && exec "$0"', HELPER], { TSINETD_SPAWND_FORK: '1' });
  forked.child.send(request(1), server);
  const nopipe = await forked.next((m) => m['t'] === 'error', 'EMFILE on pipe');
  assert.deepEqual({ id: nopipe['id'], stage: nopipe['stage'], errno: nopipe['errno'] }, { id: 1, stage: 'pipe', errno: 24 });
  forked.child.send(request(2), server);
  await forked.next((m) => m['t'] === 'error' && m['id'] === 2, 'second request answered too');
  assert.deepEqual(lowFds(forked.child.pid as number), [0, 1, 2, 3, 4], 'the received sockets were closed');
});
