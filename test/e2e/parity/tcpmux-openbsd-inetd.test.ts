// TCPMUX lines side by side with Debian's openbsd-inetd, which has no TCPMUX: the same
// inetd.conf (an internal tcpmux, a `tcpmux/+NAME` line, and a plain service) is given to
// openbsd-inetd and to tsinetd --dialect openbsd, each with /etc/services naming tcpmux on a
// port of the test's (a mount namespace of its own). Neither serves the tcpmux port; both serve
// the plain service with the same bytes; tsinetd says why at the lines' positions.
// Skipped without openbsd-inetd (installed, or unpacked under /opt by .ci/run) or mounts.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, renderConfig, TEST_USER } from '../../helpers/daemon.js';
import { freePort, tcpRequest, waitFor } from '../../helpers/net.js';
import { MUX_LINE } from '../../helpers/tcpmux.js';
import { tempDir } from '../../helpers/temp.js';
import { noMountNamespace, startWithEtc, withEtc } from '../../helpers/xinetd.js';

const OPENBSD_INETD = ['/opt/openbsd-inetd-ref/usr/sbin/inetd', '/usr/sbin/inetd'].find((p) => existsSync(p)) ?? '/usr/sbin/inetd';
const skip = !existsSync(OPENBSD_INETD) ? `${OPENBSD_INETD} is absent (Debian package openbsd-inetd)` : noMountNamespace();

const conf = (plainPort: number): string =>
  `tcpmux\tstream\ttcp\tnowait\troot\tinternal\n` +
  `tcpmux/+plus\tstream\ttcp\tnowait\t${TEST_USER}\t${MUX_LINE}\tmux-line\n` +
  `${plainPort}\tstream\ttcp\tnowait\t${TEST_USER}\t${MUX_LINE}\tmux-line answer\n`;

const services = (muxPort: number): string => readFileSync('/etc/services', 'utf8').replace(/^tcpmux\s.*$/m, `tcpmux\t${muxPort}/tcp`);

/** What a client gets from `port`: the tcpmux request, or a line for the plain service. */
async function ask(port: number, send: string): Promise<string> {
  const r = await tcpRequest({ port, send, end: false, then: 'x\n', timeoutMs: 5000 });
  return `${JSON.stringify(r.data.toString('latin1'))} ${r.ended}`;
}

test('openbsd-inetd has no TCPMUX, and tsinetd --dialect openbsd serves none either; the other line is served alike', { skip }, async (t) => {
  const [theirMux, theirPlain, ourMux, ourPlain] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const dir = tempDir(t, 'tcpmux-openbsd');

  writeFileSync(join(dir, 'theirs.conf'), conf(theirPlain));
  const [cmd, ...args] = withEtc(dir, 'openbsd-inetd', { services: services(theirMux) }, [OPENBSD_INETD, '-d', '-i', join(dir, 'theirs.conf')]);
  const inetd = spawn(cmd ?? 'unshare', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let debug = '';
  inetd.stderr.on('data', (d: Buffer) => (debug += d.toString()));
  t.after(() => {
    inetd.kill('SIGKILL');
  });
  await waitFor(() => (new RegExp(`ADD: ${theirPlain} proto=tcp6`).test(debug) ? true : undefined), 5000, `openbsd-inetd to start:\n${debug}`);

  writeFileSync(join(dir, 'ours.conf'), conf(ourPlain));
  const xconf = join(dir, 'xinetd.conf');
  writeFileSync(xconf, renderConfig([], { log_type: `FILE ${join(dir, 'services.log')}` }));
  const daemonLog = join(dir, 'daemon.log');
  await startWithEtc(
    t,
    dir,
    'tsinetd',
    { services: services(ourMux) },
    [process.execPath, CLI, '-dontfork', '-f', xconf, '--inetd', join(dir, 'ours.conf'), '--dialect', 'openbsd', '-filelog', daemonLog],
    daemonLog,
  );

  const theirs = [await ask(theirMux, 'plus\r\n'), await ask(theirPlain, '')];
  const ours = [await ask(ourMux, 'plus\r\n'), await ask(ourPlain, '')];
  assert.deepEqual(ours, theirs);
  assert.deepEqual(theirs, ['"" ECONNREFUSED', `"+ready\\r\\ngot x as ${TEST_USER}\\n" eof`]);
  // openbsd-inetd reads the tcpmux/ line as a service of that name (which /etc/services lacks,
  // so it gets no socket) and drops the internal tcpmux; tsinetd names both lines and the reason.
  assert.match(debug, /^ADD: tcpmux\/\+plus proto=tcp,/m);
  assert.doesNotMatch(debug, /^ADD: tcpmux proto/m);
  const log = readFileSync(daemonLog, 'utf8');
  assert.match(
    log,
    /ours\.conf:1:1: error: the internal tcpmux service is not in the openbsd dialect \(that inetd has none; FreeBSD's and GNU inetutils' have: --dialect freebsd or gnu\); entry skipped/,
  );
  assert.match(
    log,
    /ours\.conf:2:1: error: TCPMUX services \(`tcpmux\/NAME`\) in the openbsd dialect \(FreeBSD's and GNU inetutils' inetds have them: --dialect freebsd or gnu\) are not supported by tsinetd; entry skipped/,
  );
});
