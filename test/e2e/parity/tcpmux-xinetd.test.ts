// TCPMUX side by side: the real xinetd 2.3.15.3 and tsinetd on the same configuration (only the
// port differs) get the same requests, one at a time; the bytes each client gets back, how the
// connection ends, and the service log lines (time stamps, pids and durations masked) must be
// the same. Skipped without the real xinetd, or without root (xinetd switches to `user`).

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderConfig, startDaemon, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, waitFor, type TcpReply } from '../../helpers/net.js';
import { muxExchange, muxLineService, tcpmuxService } from '../../helpers/tcpmux.js';
import { tempDir } from '../../helpers/temp.js';
import { noXinetd, startXinetd } from '../../helpers/xinetd.js';

const skip = noXinetd || (process.getuid?.() === 0 ? false : 'needs root (xinetd runs the TCPMUX servers as their user)');

const services = (port: number): ServiceDef[] => [
  tcpmuxService(port),
  muxLineService('plus', 'TCPMUXPLUS'),
  muxLineService('plain', 'TCPMUX'),
  muxLineService('closed', 'TCPMUXPLUS', { only_from: '127.0.0.1' }),
];

/** The requests: what is sent in one write, from where, and what follows the first reply. */
const REQUESTS: ReadonlyArray<{ send: string; from?: string; then?: string }> = [
  { send: 'plus\r\n', then: 'hello\n' },
  { send: 'PLAIN\r\n', then: 'hi\n' },
  { send: 'help\r\n' },
  { send: 'nosuch\r\n' },
  { send: 'tcpmux\r\n' },
  { send: 'plus\n' },
  { send: 'plus\r\nextra' },
  { send: '\r\n' },
  { send: 'plus\0ignored\r\n', then: 'after a NUL\n' },
  { send: 'closed\r\n', from: '127.0.0.2', then: 'x\n' },
  { send: 'closed\r\n', from: '127.0.0.1', then: 'y\n' },
];

const mask = (log: string): string[] =>
  log
    .split('\n')
    .filter((l) => l !== '')
    .map((l) =>
      l
        .replace(/^\S+: /, '')
        .replace(/pid=\d+/g, 'pid=N')
        .replace(/duration=\d+/g, 'duration=N'),
    );

const ends = (log: string): number => mask(log).filter((l) => /^(EXIT|FAIL): /.test(l)).length;

const shown = (r: TcpReply): string => `${JSON.stringify(r.data.toString('latin1'))} ${r.ended}`;

test('TCPMUX: the same bytes on the wire and the same service lines as real xinetd', { skip }, async (t) => {
  const [px, pt] = [await freePort(), await freePort()];
  const dir = tempDir(t, 'tcpmux-xinetd');
  const xLog = join(dir, 'xinetd-services.log');
  const conf = join(dir, 'xinetd.conf');
  writeFileSync(conf, renderConfig(services(px), { log_type: `FILE ${xLog}`, log_on_success: 'PID HOST EXIT DURATION', log_on_failure: 'HOST' }));
  const xinetd = await startXinetd(t, conf, join(dir, 'xinetd-daemon.log'));
  const ours = await startDaemon(t, { services: services(pt) });
  const xServiceLog = (): string => (existsSync(xLog) ? readFileSync(xLog, 'utf8') : '');
  // xinetd counts the services that listen: tcpmux alone.
  assert.equal(xinetd.started, 1);
  await ours.waitForDaemonLog(/Started working: 1 available service/);

  for (const [i, r] of REQUESTS.entries()) {
    const opts = { ...(r.from !== undefined ? { localAddress: r.from } : {}), ...(r.then !== undefined ? { then: r.then } : {}) };
    const x = await muxExchange(px, r.send, opts);
    const o = await muxExchange(pt, r.send, opts);
    assert.equal(shown(o), shown(x), `request ${JSON.stringify(r.send)} from ${r.from ?? '127.0.0.1'}`);
    // One START and one EXIT each (xinetd logs EXIT when it reaps its child).
    await waitFor(() => (ends(xServiceLog()) > i && ends(ours.serviceLog()) > i ? true : undefined), 10_000, `the lines of request ${i}`);
  }
  assert.deepEqual(mask(ours.serviceLog()), mask(xServiceLog()));
  assert.equal(mask(ours.serviceLog()).length, 2 * REQUESTS.length);
});
