// A daemon run as on a Node without the private internals tsinetd uses (TSINETD_NODE_INTERNALS=0,
// the switch in src/sys/uv-handles.ts): it says so once, starts servers with the Node spawner, still
// serves internal and program stream services and a FreeBSD max-child limit (the waiting client
// is held in the daemon instead of the listen queue), and reports a wait = yes service it cannot
// serve once, without retrying it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, internalService, programService, startDaemon, TEST_USER } from '../../helpers/daemon.js';
import { catClient, freePort, settlesWithin, tcpRequest } from '../../helpers/net.js';

const EXIT_WITH = join(FIXTURES, 'exit-with');

test('without Node internals the daemon still serves, with the documented losses', async (t) => {
  const [echo, program, waitUdp, maxChild] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-internals-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const inetd = join(dir, 'inetd.conf');
  writeFileSync(inetd, `# $FreeBSD$\n${maxChild}\tstream\ttcp\tnowait/1\t${TEST_USER}\t/bin/cat\tcat\n`);
  const d = await startDaemon(t, {
    services: [
      internalService('echo', echo, 'stream', { bind: '127.0.0.1' }),
      programService('bye', program, EXIT_WITH, { bind: '127.0.0.1' }),
      programService('waitudp', waitUdp, join(FIXTURES, 'udp-reply'), { socket_type: 'dgram', protocol: 'udp', wait: 'yes', bind: '127.0.0.1' }),
    ],
    args: ['--inetd', inetd],
    env: { ...process.env, TSINETD_NODE_INTERNALS: '0', TSINETD_BIND_RETRY_MS: '100' },
  });
  await d.waitForDaemonLog(/NOTICE: .*libuv handle internals are not available/);
  await d.waitForDaemonLog(/started with the node spawner/);
  const notStarted = await d.waitForDaemonLog(/service waitudp not started: .*needs Node's libuv handles/);
  await d.waitForDaemonLog(/Started working: 3 available services/);

  const echoed = await tcpRequest({ port: echo, send: 'hello\n' });
  assert.equal(echoed.data.toString(), 'hello\n');
  assert.equal((await tcpRequest({ port: program })).data.toString(), 'bye\n');

  // max-child 1: the second client is accepted by Node but held, unserved, until the first ends.
  const a = catClient(t, maxChild);
  assert.equal(await a.admitted, true);
  const b = catClient(t, maxChild);
  assert.equal(await settlesWithin(b.admitted, 500), false, 'the second client neither served nor closed while a server runs');
  a.socket.end();
  assert.equal(await b.admitted, true);

  // Reported once and never retried (a retry every 100 ms would have shown by now).
  const log = d.daemonLog();
  assert.equal(log.split('\n').filter((l) => l.includes('service waitudp not started')).length, 1, notStarted);
  assert.doesNotMatch(log, /bind retry|bind failed/);
});
