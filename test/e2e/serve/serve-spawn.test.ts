// Server programs of nowait stream services: the socket as fds 0, 1 and 2, argv, environment,
// user/group/umask/nice, peer addresses (dual-stack, IPv4, IPv6, a second host), EXIT lines,
// and a program that cannot start while the others keep serving.

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FIXTURES, have, programService, startDaemon } from '../../helpers/daemon.js';
import { closed, freePort, readUntil, tcpConnect, tcpRequest } from '../../helpers/net.js';
import { nobodyUnavailable, stagedPath, stageForOthers } from '../../helpers/stage.js';

const ENV_PRINTER = join(FIXTURES, 'env-printer');

interface Report {
  fields: Map<string, string>;
  env: Map<string, string>;
  text: string;
}

function parseReport(text: string): Report {
  const fields = new Map<string, string>();
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('env:')) {
      const eq = line.indexOf('=');
      env.set(line.slice(4, eq), line.slice(eq + 1));
    } else {
      const eq = line.indexOf('=');
      if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
    }
  }
  return { fields, env, text };
}

async function report(port: number, opts: { host?: string; localAddress?: string } = {}): Promise<Report> {
  const r = await tcpRequest({ port, ...opts });
  assert.equal(r.ended, 'eof', r.data.toString());
  return parseReport(r.data.toString());
}

describe('server programs', () => {
  test('argv, environment, fds 0-2, working directory', async (t) => {
    const port = await freePort();
    const daemon = await startDaemon(t, {
      services: [
        programService('envp', port, '/bin/sh', {
          flags: 'NAMEINARGS',
          server_args: `my-argv0 ${ENV_PRINTER} one two`,
          env: 'FOO=bar EMPTY=',
        }),
      ],
      env: { ...process.env, TSINETD_TEST_MARK: 'inherited' },
    });
    const r = await report(port);
    assert.equal(r.fields.get('cmdline'), `my-argv0|${ENV_PRINTER}|one|two|`);
    assert.equal(r.fields.get('args'), 'one two');
    assert.equal(r.env.get('FOO'), 'bar');
    assert.equal(r.env.get('EMPTY'), '');
    assert.equal(r.env.get('REMOTE_HOST'), '::ffff:127.0.0.1');
    assert.equal(r.env.get('TSINETD_TEST_MARK'), 'inherited');
    assert.equal(r.env.get('PATH'), process.env['PATH']);
    assert.equal(r.fields.get('cwd'), '/');
    // The same socket on 0, 1 and 2: what the server writes to stderr reaches the client.
    const fd0 = r.fields.get('fd0');
    assert.match(fd0 ?? '', /^socket:\[\d+\]$/);
    assert.equal(r.fields.get('fd1'), fd0);
    assert.equal(r.fields.get('fd2'), fd0);
    assert.match(r.text, /^stderr: written to fd 2$/m);
    assert.match(r.text, /\nend\n$/);
    const start = await daemon.waitForServiceLog(/START: envp pid=\d+ from=::ffff:127\.0\.0\.1$/);
    const pid = /pid=(\d+)/.exec(start)![1];
    await daemon.waitForServiceLog(new RegExp(`EXIT: envp status=0 pid=${pid} duration=\\d+\\(sec\\)`));
  });

  test('passenv set empty: only env and REMOTE_HOST', async (t) => {
    const port = await freePort();
    await startDaemon(t, {
      services: [programService('bare', port, ENV_PRINTER, { passenv: '', env: 'ONLY=this' })],
      env: { ...process.env, TSINETD_TEST_MARK: 'must-not-pass' },
    });
    const r = await report(port);
    // The shell itself adds PWD.
    const names = [...r.env.keys()].filter((n) => n !== 'PWD').sort();
    assert.deepEqual(names, ['ONLY', 'REMOTE_HOST']);
    assert.equal(r.env.get('ONLY'), 'this');
  });

  test('user, group, umask and nice apply to the server', { skip: nobodyUnavailable() }, async (t) => {
    const port = await freePort();
    const printer = stagedPath(stageForOthers(t, [ENV_PRINTER]), ENV_PRINTER); // nobody may not enter the checkout
    await startDaemon(t, {
      services: [programService('creds', port, printer, { user: 'nobody', group: 'nogroup', umask: '077', nice: '7' })],
    });
    const r = await report(port);
    assert.match(r.fields.get('id') ?? '', /^uid=65534\(nobody\) gid=65534\(nogroup\) groups=65534\(nogroup\)$/);
    assert.equal(r.fields.get('groups'), '65534');
    assert.equal(r.fields.get('umask'), '0077');
    assert.equal(r.fields.get('nice'), '7');
  });

  test("without umask the server gets the daemon's umask ORed with 022, like xinetd", async (t) => {
    const port = await freePort();
    await startDaemon(t, { services: [programService('um', port, ENV_PRINTER)], umask: 0o007 });
    const r = await report(port);
    assert.equal(r.fields.get('umask'), '0027');
  });

  test('peer addresses: dual-stack by default, plain with an IPv4 bind or flags = IPv4, IPv6 clients', async (t) => {
    const [dual, v4bind, v4flag] = [await freePort(), await freePort(), await freePort()];
    const daemon = await startDaemon(t, {
      services: [
        programService('dual', dual, ENV_PRINTER),
        programService('v4bind', v4bind, ENV_PRINTER, { bind: '127.0.0.1' }),
        programService('v4flag', v4flag, ENV_PRINTER, { flags: 'IPv4' }),
      ],
    });
    assert.equal((await report(dual)).env.get('REMOTE_HOST'), '::ffff:127.0.0.1');
    assert.equal((await report(dual, { host: '::1' })).env.get('REMOTE_HOST'), '::1');
    assert.equal((await report(dual, { localAddress: '127.0.0.2' })).env.get('REMOTE_HOST'), '::ffff:127.0.0.2');
    assert.equal((await report(v4bind)).env.get('REMOTE_HOST'), '127.0.0.1');
    assert.equal((await report(v4flag, { localAddress: '127.0.0.2' })).env.get('REMOTE_HOST'), '127.0.0.2');
    await daemon.waitForServiceLog(/START: dual pid=\d+ from=::1$/);
    await daemon.waitForServiceLog(/START: v4bind pid=\d+ from=127\.0\.0\.1$/);
    // An IPv4-only socket refuses IPv6 clients.
    assert.equal((await tcpRequest({ port: v4bind, host: '::1' })).ended, 'ECONNREFUSED');
  });

  test('two services on one port with different bind addresses', async (t) => {
    const port = await freePort();
    await startDaemon(t, {
      services: [
        programService('first', port, ENV_PRINTER, { bind: '127.0.0.1', env: 'WHICH=first' }),
        programService('second', port, ENV_PRINTER, { bind: '127.0.0.2', env: 'WHICH=second' }),
      ],
    });
    assert.equal((await report(port, { host: '127.0.0.1' })).env.get('WHICH'), 'first');
    assert.equal((await report(port, { host: '127.0.0.2' })).env.get('WHICH'), 'second');
  });

  test('NODELAY and KEEPALIVE are set on the connection the server gets', { skip: have('python3') ? false : 'python3 is not installed' }, async (t) => {
    const [plain, flagged] = [await freePort(), await freePort()];
    await startDaemon(t, {
      services: [
        programService('plain', plain, join(FIXTURES, 'sockopts')),
        programService('flagged', flagged, join(FIXTURES, 'sockopts'), { flags: 'NODELAY KEEPALIVE' }),
      ],
    });
    assert.equal((await tcpRequest({ port: plain })).data.toString(), 'nodelay=0 keepalive=0\n');
    assert.equal((await tcpRequest({ port: flagged })).data.toString(), 'nodelay=1 keepalive=1\n');
  });

  test('exit status and signal are logged', async (t) => {
    const [exits, sleeps] = [await freePort(), await freePort()];
    const daemon = await startDaemon(t, {
      services: [
        programService('exits', exits, join(FIXTURES, 'exit-with'), { server_args: '3' }),
        programService('sleeps', sleeps, join(FIXTURES, 'sleeper')),
      ],
    });
    assert.equal((await tcpRequest({ port: exits })).data.toString(), 'bye\n');
    await daemon.waitForServiceLog(/EXIT: exits status=3 pid=\d+ duration=\d+\(sec\)/);
    const s = await tcpConnect(sleeps);
    t.after(() => s.destroy());
    const line = await readUntil(s, /started pid=\d+\n/);
    const pid = Number(/pid=(\d+)/.exec(line)![1]);
    process.kill(pid, 'SIGKILL');
    await closed(s);
    await daemon.waitForServiceLog(new RegExp(`EXIT: sleeps signal=9 pid=${pid} duration=`));
  });

  test('a program that cannot start is logged and the other services keep serving', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsinetd-missing-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const program = join(dir, 'vanishing');
    copyFileSync(join(FIXTURES, 'exit-with'), program);
    const [gone, fine] = [await freePort(), await freePort()];
    const daemon = await startDaemon(t, {
      services: [programService('gone', gone, program), programService('fine', fine, join(FIXTURES, 'exit-with'))],
    });
    unlinkSync(program);
    const r = await tcpRequest({ port: gone });
    assert.equal(r.data.length, 0);
    await daemon.waitForServiceLog(/FAIL: gone fork from=::ffff:127\.0\.0\.1/);
    await daemon.waitForDaemonLog(new RegExp(`ERROR: execv\\( ${program.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\) failed: .*ENOENT`));
    for (let i = 0; i < 3; i++) assert.equal((await tcpRequest({ port: fine })).data.toString(), 'bye\n');
    assert.equal((await tcpRequest({ port: gone })).data.length, 0);
  });
});
