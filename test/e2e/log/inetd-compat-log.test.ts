// -inetd_compat: the services of /etc/inetd.conf take log_type, log_on_success,
// log_on_failure and instances from the xinetd `defaults` (xinetd's service_fill), but not
// only_from. Side by
// side with the real xinetd: each daemon runs in its own mount namespace where a scratch
// inetd.conf and a scratch /etc/services (naming the test's port) lie in an overlay over /etc
// (the machine's files are never edited); two clients connect from ::1, the second while the first one's server runs
// (instances = 1), and the START/FAIL/EXIT lines must be equal once times, pids and durations
// are masked. Skipped without root, unshare -m or the unpacked xinetd.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { CLI, FIXTURES, TEST_USER } from '../../helpers/daemon.js';
import { freePort, tcpRequest, waitFor } from '../../helpers/net.js';
import { tempDir } from '../../helpers/temp.js';
import { noMountNamespace, noXinetd, startWithEtc, XINETD } from '../../helpers/xinetd.js';

// Needs a private mount namespace: each daemon gets its own /etc/inetd.conf and /etc/services there.
const skip = noXinetd || noMountNamespace();

const NAME = 'tsinetd-compat';

const lines = (p: string): string[] =>
  existsSync(p)
    ? readFileSync(p, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];

/** Starts `argv` where /etc/inetd.conf is the test's and /etc/services also names NAME on `port`. */
async function startIn(t: TestContext, dir: string, tag: string, port: number, argv: string[], daemonLog: string): Promise<void> {
  const etc = { 'inetd.conf': readFileSync(join(dir, 'inetd.conf'), 'utf8'), services: `${readFileSync('/etc/services', 'utf8')}\n${NAME}\t${port}/tcp\n` };
  await startWithEtc(t, dir, tag, etc, argv, daemonLog);
}

/** Connects from ::1 and reads until the server closes. */
async function session(port: number): Promise<string> {
  const r = await tcpRequest({ port, host: '::1', localAddress: '::1', timeoutMs: 5000 });
  return `${r.ended} ${r.data
    .toString()
    .trim()
    .replace(/pid=\d+/, 'pid=N')}`;
}

/** A first client, then a second one while the first one's server (1 s) still runs. */
async function twoClients(port: number): Promise<string[]> {
  const first = session(port);
  await new Promise((r) => setTimeout(r, 400));
  const second = await session(port);
  return [await first, second];
}

const mask = (l: string): string =>
  l
    .replace(/^\d{2}\/\d{1,2}\/\d{1,2}@\d{2}:\d{2}:\d{2}/, 'TIME')
    .replace(/pid=\d+/, 'pid=N')
    .replace(/duration=\d+/, 'duration=N');

test(
  '-inetd_compat: inetd.conf services log START/FAIL/EXIT and limit instances as the defaults say, as in xinetd (and ignore its only_from)',
  { skip, timeout: 60_000 },
  async (t) => {
    const dir = tempDir(t, 'compat-log');
    writeFileSync(join(dir, 'inetd.conf'), `${NAME}\tstream\ttcp\tnowait\t${TEST_USER}\t${join(FIXTURES, 'sleeper')}\tsleeper 1\n`);
    // only_from in defaults is not applied to inetd.conf services by xinetd: ::1 is let in.
    const conf = (log: string): string =>
      `defaults\n{\n\tlog_type = FILE ${log}\n\tlog_on_success = PID HOST EXIT DURATION\n\tlog_on_failure = HOST ATTEMPT\n\tonly_from = 127.0.0.2\n\tinstances = 1\n}\n`;
    const logs = { xinetd: join(dir, 'xinetd-services.log'), ours: join(dir, 'tsinetd-services.log') };
    writeFileSync(join(dir, 'xinetd.conf'), conf(logs.xinetd));
    writeFileSync(join(dir, 'tsinetd.conf'), conf(logs.ours));
    const [xPort, tPort] = [await freePort(), await freePort()];

    const xDaemon = join(dir, 'xinetd.log');
    await startIn(t, dir, 'xinetd', xPort, [XINETD, '-dontfork', '-inetd_compat', '-f', join(dir, 'xinetd.conf'), '-filelog', xDaemon], xDaemon);
    const tDaemon = join(dir, 'tsinetd.log');
    await startIn(
      t,
      dir,
      'tsinetd',
      tPort,
      [
        process.execPath,
        CLI,
        '-dontfork',
        '-inetd_compat',
        '-f',
        join(dir, 'tsinetd.conf'),
        '-filelog',
        tDaemon,
        '--hosts-allow',
        join(dir, 'none'),
        '--hosts-deny',
        join(dir, 'none'),
      ],
      tDaemon,
    );

    // The second client is refused at once (closed without a word): one instance at a time.
    assert.deepEqual(await twoClients(xPort), ['eof started pid=N', 'eof ']);
    assert.deepEqual(await twoClients(tPort), ['eof started pid=N', 'eof ']);
    const exited = (p: string) => () => (lines(p).some((l) => l.includes(' EXIT: ')) ? true : undefined);
    await waitFor(exited(logs.xinetd), 5000, `xinetd's EXIT line\n${lines(logs.xinetd).join('\n')}`);
    await waitFor(exited(logs.ours), 5000, `tsinetd's EXIT line\n${lines(logs.ours).join('\n')}\n${lines(tDaemon).join('\n')}`);

    const theirs = lines(logs.xinetd).map(mask);
    assert.deepEqual(theirs, [
      `TIME: START: ${NAME} pid=N from=::1`,
      `TIME: FAIL: ${NAME} service_limit from=::1`,
      `TIME: EXIT: ${NAME} status=0 pid=N duration=N(sec)`,
    ]);
    assert.deepEqual(lines(logs.ours).map(mask), theirs);
  },
);
