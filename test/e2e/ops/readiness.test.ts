// Readiness for supervisors, with real processes: systemd's NOTIFY_SOCKET played by a python3
// unix datagram listener that reads the sender's credentials (SO_PASSCRED), as systemd does;
// --ready-fd read through a pipe, in the foreground and when the daemon detaches.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CLI, FIXTURES, have, internalService, programService, renderConfig, startDaemon } from '../../helpers/daemon.js';
import { fakeSystemd } from '../../helpers/fake-systemd.js';
import { freePort, tcpRequest, waitFor, withTimeout } from '../../helpers/net.js';
import { tempDir } from '../../helpers/temp.js';

const noNotify = !have('python3') ? 'python3 is not installed' : !have('systemd-notify') ? 'systemd-notify(1) is not installed' : false;

test(
  'systemd: READY=1 once serving, RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on SIGTERM; servers never see NOTIFY_SOCKET',
  { skip: noNotify },
  async (t) => {
    const dir = tempDir(t, 'ready');
    const fake = await fakeSystemd(t, dir);
    const port = await freePort();
    const d = await startDaemon(t, {
      services: [programService('env', port, join(FIXTURES, 'env-printer'))],
      env: { ...process.env, NOTIFY_SOCKET: fake.path },
    });
    const ready = await waitFor(() => fake.messages.find((m) => m.vars['READY'] === '1'), 5000, 'READY=1');
    assert.equal(ready.vars['MAINPID'], String(d.pid));
    assert.equal(ready.vars['STATUS'], 'Serving 1 service');
    if (process.getuid?.() === 0) {
      // Measured: as root, systemd-notify --pid=PID sends with the daemon's pid as the sender, so
      // NotifyAccess=main accepts it.
      assert.equal(ready.pid, d.pid);
    }
    assert.equal(fake.messages.indexOf(ready), 0, 'READY=1 is the first message');

    const env = (await tcpRequest({ port })).data.toString();
    assert.match(env, /^env:PATH=/m);
    assert.doesNotMatch(env, /NOTIFY_SOCKET/);

    d.signal('SIGHUP');
    await waitFor(() => (fake.messages.filter((m) => m.vars['READY'] === '1').length >= 2 ? true : undefined), 5000, 'READY=1 after the reload');
    const reloading = fake.messages[1]!;
    assert.equal(reloading.vars['RELOADING'], '1');
    // MONOTONIC_USEC is CLOCK_MONOTONIC, the clock python's time.monotonic() reads: at most a
    // moment before the message arrived.
    const usec = Number(reloading.vars['MONOTONIC_USEC']);
    assert.ok(usec <= reloading.mono && reloading.mono - usec < 2_000_000, `MONOTONIC_USEC ${usec} vs arrival ${reloading.mono}`);
    assert.equal(fake.messages[2]!.vars['READY'], '1');

    const status = await d.stop('SIGTERM');
    assert.equal(status.code, 0);
    const last = fake.messages[fake.messages.length - 1]!;
    assert.equal(last.vars['STOPPING'], '1');
    assert.equal(fake.messages.length, 4);
  },
);

test('NOTIFY_SOCKET set but systemd-notify missing or failing: one warning each, serving goes on', { skip: noNotify }, async (t) => {
  const emptyPath = tempDir(t, 'ready');
  const port = await freePort();
  const missing = await startDaemon(t, {
    services: [internalService('echo', port, 'stream')],
    env: { ...process.env, NOTIFY_SOCKET: join(emptyPath, 'nowhere.sock'), PATH: emptyPath },
  });
  await missing.waitForDaemonLog(/WARNING: NOTIFY_SOCKET is set but systemd-notify is not installed/);
  assert.equal((await tcpRequest({ port, send: 'x' })).data.toString(), 'x');

  const port2 = await freePort();
  const failing = await startDaemon(t, {
    services: [internalService('echo', port2, 'stream')],
    env: { ...process.env, NOTIFY_SOCKET: join(emptyPath, 'nowhere.sock') },
  });
  await failing.waitForDaemonLog(/WARNING: systemd-notify --pid=\d+ READY=1 STATUS=Serving 1 service failed \(status \d+\)/);
  assert.equal((await tcpRequest({ port: port2, send: 'y' })).data.toString(), 'y');
});

/** Reads a stream to its end; resolves with the text and the time of each chunk. */
function readAll(stream: Readable): Promise<{ text: string; firstAt: number; endAt: number }> {
  return new Promise((resolve) => {
    let text = '';
    let firstAt = 0;
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      if (text === '') firstAt = performance.now();
      text += d;
    });
    stream.on('end', () => resolve({ text, firstAt, endAt: performance.now() }));
  });
}

interface Started {
  child: ChildProcess;
  fd3: Readable;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Runs the CLI with a pipe as descriptor 3; the process is killed when the test ends. */
function runWithFd3(t: TestContext, args: string[]): Started {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, fd3: child.stdio[3] as Readable, stderr: () => err, exited };
}

function configFile(dir: string, port: number): string {
  const conf = join(dir, 'xinetd.conf');
  writeFileSync(conf, renderConfig([internalService('echo', port, 'stream')], { log_type: `FILE ${join(dir, 'services.log')}` }));
  return conf;
}

test('--ready-fd: READY once every listener is bound, then the descriptor is closed', async (t) => {
  const dir = tempDir(t, 'ready');
  const port = await freePort();
  const run = runWithFd3(t, ['-dontfork', '-f', configFile(dir, port), '-filelog', join(dir, 'daemon.log'), '--ready-fd', '3']);
  let answeredAtReady: string | null = null;
  run.fd3.once('data', () => {
    // Checked as soon as READY arrives: the service must already answer.
    void tcpRequest({ port, send: 'now', timeoutMs: 2000 }).then((r) => {
      answeredAtReady = r.data.toString();
    });
  });
  const got = await withTimeout(readAll(run.fd3), 15_000, 'READY and the end of descriptor 3');
  assert.equal(got.text, 'READY\n');
  assert.ok(got.endAt - got.firstAt < 2000, 'the descriptor is closed right after READY');
  await waitFor(() => answeredAtReady ?? undefined, 3000, 'the echo right after READY');
  assert.equal(answeredAtReady, 'now');
  assert.equal(run.child.exitCode, null, 'the daemon still runs');
  run.child.kill('SIGTERM');
  assert.equal(await withTimeout(run.exited, 5000, 'the daemon to exit'), 0);
});

test('--ready-fd on a real pipe (as s6 passes its notification-fd): READY, then end of file', async (t) => {
  const dir = tempDir(t, 'ready');
  const port = await freePort();
  const pidfile = join(dir, 'tsinetd.pid');
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const daemon = [process.execPath, CLI, '-dontfork', '-f', configFile(dir, port), '-filelog', join(dir, 'daemon.log'), '-pidfile', pidfile, '--ready-fd', '3'];
  // The shell's `|` makes a pipe; descriptor 3 of tsinetd is its write end. What `cat` read,
  // then a mark once it saw the end of the pipe, go to a file (the shell itself waits for tsinetd).
  const out = join(dir, 'fd3.txt');
  const sh = spawn('sh', ['-c', `${daemon.map(q).join(' ')} 3>&1 >/dev/null | { cat; echo '<eof>'; } > ${q(out)}`], { stdio: 'ignore' });
  t.after(() => {
    if (existsSync(pidfile)) {
      try {
        process.kill(Number(readFileSync(pidfile, 'utf8')), 'SIGKILL');
      } catch {
        // gone
      }
    }
    sh.kill('SIGKILL');
  });
  const read = (): string => (existsSync(out) ? readFileSync(out, 'utf8') : '');
  // The end of the pipe comes while tsinetd keeps running.
  await waitFor(() => (read().includes('<eof>') ? true : undefined), 15_000, `READY and the end of the pipe (so far: ${JSON.stringify(read())})`);
  assert.equal(read(), 'READY\n<eof>\n');
  const pid = Number(readFileSync(pidfile, 'utf8'));
  assert.equal((await tcpRequest({ port, send: 'piped' })).data.toString(), 'piped');
  process.kill(pid, 'SIGTERM');
  await waitFor(() => (existsSync(pidfile) ? undefined : true), 5000, 'tsinetd to exit');
});

test('--ready-fd when the daemon detaches: the starting process says READY once the copy serves, then exits 0', async (t) => {
  const dir = tempDir(t, 'ready');
  const port = await freePort();
  const pidfile = join(dir, 'tsinetd.pid');
  const run = runWithFd3(t, ['-f', configFile(dir, port), '-filelog', join(dir, 'daemon.log'), '-pidfile', pidfile, '--ready-fd', '3']);
  t.after(() => {
    if (!existsSync(pidfile)) return;
    try {
      process.kill(Number(readFileSync(pidfile, 'utf8')), 'SIGKILL');
    } catch {
      // gone
    }
  });
  const got = await withTimeout(readAll(run.fd3), 15_000, 'READY and the end of descriptor 3');
  assert.equal(got.text, 'READY\n');
  assert.equal(await withTimeout(run.exited, 5000, 'the starting process to exit'), 0);
  assert.equal((await tcpRequest({ port, send: 'detached' })).data.toString(), 'detached');
  const pid = Number(readFileSync(pidfile, 'utf8'));
  assert.notEqual(pid, run.child.pid);
  process.kill(pid, 'SIGTERM');
  await waitFor(() => (existsSync(pidfile) ? undefined : true), 5000, 'the detached daemon to exit');
});

test('--ready-fd naming a descriptor that was not passed: exit 1 before anything is bound', async (t) => {
  const dir = tempDir(t, 'ready');
  const port = await freePort();
  // 4 and 5 were not passed; Node's own start-up descriptors take such numbers (its epoll, eventfd, pipes).
  for (const [fd, expected] of [
    ['500', /^tsinetd: --ready-fd 500: the descriptor is not open \(EBADF\)\n$/],
    [
      '4',
      /^tsinetd: --ready-fd 4: (descriptor 4 was not passed to tsinetd \(it is .*, one of Node's own\)|descriptor 4 \(.*\) is open for reading only|the descriptor is not open \(EBADF\))\n$/,
    ],
    [
      '5',
      /^tsinetd: --ready-fd 5: (descriptor 5 was not passed to tsinetd \(it is .*, one of Node's own\)|descriptor 5 \(.*\) is open for reading only|the descriptor is not open \(EBADF\))\n$/,
    ],
  ] as const) {
    const run = runWithFd3(t, ['-dontfork', '-f', configFile(dir, port), '--ready-fd', fd]);
    assert.equal(await withTimeout(run.exited, 15_000, 'tsinetd to exit'), 1);
    assert.match(run.stderr(), expected);
  }
  assert.equal((await tcpRequest({ port, timeoutMs: 2000 })).ended, 'ECONNREFUSED');
});
