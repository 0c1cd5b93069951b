// The files the running daemon writes and reads, end to end:
// - a symlink planted at the pid file, a service log FILE or the SIGUSR1 dump file in a
//   directory other users can write (a private stand-in for /tmp, mode 1777) is not written
//   through: the daemon logs a clear error and keeps serving, the link's target is untouched;
//   a FIFO planted at the pid file does not block start-up;
// - configuration files that other users can write are reported by --check and at start, with
//   a warning located in (and naming) the file.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { CLI, internalService, renderConfig, type ServiceDef } from '../../helpers/daemon.js';
import { launch } from '../../helpers/launch.js';
import { freePort, tcpRequest, waitFor } from '../../helpers/net.js';
import { sharedDirLayout, type SharedDirLayout } from '../../helpers/temp.js';

const ROOT = process.geteuid?.() === 0;

interface Layout extends SharedDirLayout {
  conf: string;
  log: string;
}

function layout(t: TestContext): Layout {
  const l = sharedDirLayout(t, 'files');
  return { ...l, conf: join(l.dir, 'xinetd.conf'), log: join(l.dir, 'daemon.log') };
}

function writeConf(l: Layout, services: ServiceDef[], logFile = join(l.dir, 'services.log')): void {
  writeFileSync(l.conf, renderConfig(services, { log_type: `FILE ${logFile}`, log_on_success: 'PID HOST', log_on_failure: 'HOST' }), { mode: 0o644 });
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('files the daemon writes, in a directory other users can write', () => {
  test('symlinks planted at the pid file, a service log and the dump file are not followed; the daemon serves on', async (t) => {
    const l = layout(t);
    const port = await freePort();
    const pidfile = join(l.shared, 'tsinetd.pid');
    const svcLog = join(l.shared, 'services.log');
    const dump = join(l.shared, 'tsinetd.dump');
    for (const p of [pidfile, svcLog, dump]) symlinkSync(l.victim, p);
    writeConf(l, [internalService('echo', port, 'stream')], svcLog);
    const d = await launch(t, { args: ['-dontfork', '-f', l.conf, '-filelog', l.log, '-pidfile', pidfile, '--dump-file', dump], daemonLog: l.log });
    await d.waitForLog(
      new RegExp(
        `ERROR: .*cannot write the pid file ${escape(pidfile)}: refused: it is a symbolic link in ${escape(l.shared)}, a directory other users can write`,
      ),
    );
    const r = await tcpRequest({ port, send: 'still serving\n' });
    assert.equal(r.data.toString(), 'still serving\n');
    await d.waitForLog(new RegExp(`cannot write log file ${escape(svcLog)}: refused: it is a symbolic link`));
    d.child.kill('SIGUSR1');
    await d.waitForLog(new RegExp(`cannot write the state dump to ${escape(dump)}: refused: it is a symbolic link`));
    assert.equal(readFileSync(l.victim, 'utf8'), 'precious\n');
  });

  test(
    'a FIFO planted at the pid file neither blocks start-up nor is written',
    { skip: spawnSync('mkfifo', ['--version']).status === 0 ? false : 'no mkfifo' },
    async (t) => {
      const l = layout(t);
      const port = await freePort();
      const pidfile = join(l.shared, 'tsinetd.pid');
      assert.equal(spawnSync('mkfifo', [pidfile]).status, 0);
      writeConf(l, [internalService('echo', port, 'stream')]);
      const d = await launch(t, { args: ['-dontfork', '-f', l.conf, '-filelog', l.log, '-pidfile', pidfile], daemonLog: l.log });
      assert.match(d.daemonLog(), /cannot write the pid file .*: refused: it is a FIFO/);
    },
  );

  test('our own pid file in such a directory is written, replacing a stale one, and removed at exit', async (t) => {
    const l = layout(t);
    const port = await freePort();
    const pidfile = join(l.shared, 'tsinetd.pid');
    writeFileSync(pidfile, '99999999999\n');
    writeConf(l, [internalService('echo', port, 'stream')]);
    const d = await launch(t, { args: ['-dontfork', '-f', l.conf, '-filelog', l.log, '-pidfile', pidfile], daemonLog: l.log });
    assert.equal(readFileSync(pidfile, 'utf8'), `${d.child.pid}\n`);
    await d.stop();
    assert.equal(existsSync(pidfile), false);
  });
});

describe('configuration files other users can write', () => {
  test('--check warns, naming and locating the file, the directory and the includedir', (t) => {
    const l = layout(t);
    const inc = join(l.dir, 'xinetd.d');
    mkdirSync(inc);
    chmodSync(inc, 0o1777);
    writeFileSync(join(inc, 'svc'), renderConfig([internalService('echo', 7, 'stream')], {}).replace(/^defaults[\s\S]*?\}\n\n/, ''));
    writeFileSync(l.conf, `defaults\n{\n}\n\nincludedir ${inc}\n`);
    chmodSync(l.conf, 0o666);
    const r = spawnSync(process.execPath, [CLI, '--check', '-f', l.conf], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split('\n');
    assert.ok(
      lines.includes(
        `${l.conf}:1:1: warning: ${l.conf} can be written by any user (mode 0666): anyone could choose the programs tsinetd starts and their user; remove write access for others (chmod o-w ${l.conf}) [unsafe-permissions]`,
      ),
      r.stderr,
    );
    assert.ok(
      lines.includes(
        `${l.conf}:5:12: warning: the directory ${inc} can be written by any user (mode 1777): anyone could add a service to the configuration [unsafe-permissions]`,
      ),
      r.stderr,
    );
  });

  test('a file owned by another user, and a directory anyone can write without the sticky bit', { skip: ROOT ? false : 'needs root (chown)' }, (t) => {
    const l = layout(t);
    const open = join(l.dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const conf = join(open, 'xinetd.conf');
    writeFileSync(conf, renderConfig([internalService('echo', 7, 'stream')], {}), { mode: 0o644 });
    chownSync(conf, 65534, 65534);
    const r = spawnSync(process.execPath, [CLI, '--check', '-f', conf], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^${escape(conf)}:1:1: warning: ${escape(conf)} belongs to uid 65534 \\(nobody\\), who can choose the programs tsinetd`, 'm'),
    );
    assert.match(
      r.stderr,
      new RegExp(
        `^${escape(conf)}:1:1: warning: the directory ${escape(open)} can be written by any user \\(mode 0777, no sticky bit\\): anyone could replace`,
        'm',
      ),
    );
  });

  test('the daemon logs the same warning when it starts (and inetd.conf files are checked too)', async (t) => {
    const l = layout(t);
    const port = await freePort();
    writeConf(l, [internalService('echo', port, 'stream')]);
    chmodSync(l.conf, 0o646);
    const inetd = join(l.dir, 'inetd.conf');
    writeFileSync(inetd, '# nothing\n');
    chmodSync(inetd, 0o666);
    const d = await launch(t, { args: ['-dontfork', '-f', l.conf, '--inetd', inetd, '-filelog', l.log], daemonLog: l.log });
    const log = d.daemonLog();
    assert.match(log, new RegExp(`WARNING: .*${escape(l.conf)}:1:1: warning: ${escape(l.conf)} can be written by any user \\(mode 0646\\)`));
    assert.match(log, new RegExp(`${escape(inetd)}:1:1: warning: ${escape(inetd)} can be written by any user \\(mode 0666\\)`));
    await waitFor(async () => ((await tcpRequest({ port, send: 'x\n' })).data.toString() === 'x\n' ? true : undefined), 5000, 'echo');
  });
});
