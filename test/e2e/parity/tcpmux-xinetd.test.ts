// TCPMUX side by side: the real xinetd 2.3.15.3 and tsinetd on the same configuration (only the
// port differs) get the same requests, one at a time; the bytes each client gets back, how the
// connection ends, and the service log lines (time stamps, pids and durations masked) must be
// the same. Then TCP wrappers: hosts.deny refusing the TCPMUX services' server from 127.0.0.2,
// and tcpmux itself from 127.0.0.3 (xinetd reads the files at their system paths, bind-mounted
// in a mount namespace of its own; tsinetd is given their paths). Skipped without the real
// xinetd, or without root (xinetd switches to `user`, and mounts).

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderConfig, startDaemon, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, waitFor, type TcpReply } from '../../helpers/net.js';
import { muxExchange, muxLineService, tcpmuxService } from '../../helpers/tcpmux.js';
import { tempDir } from '../../helpers/temp.js';
import { maskServiceLog, noMountNamespace, noXinetd, startXinetd } from '../../helpers/xinetd.js';

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

const mask = maskServiceLog;

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

test('TCPMUX and TCP wrappers: the TCPMUX service refused under its server name, tcpmux under its own', { skip: skip || noMountNamespace() }, async (t) => {
  const [px, pt] = [await freePort(), await freePort()];
  const dir = tempDir(t, 'tcpmux-wrap');
  const [allow, deny] = [join(dir, 'hosts.allow'), join(dir, 'hosts.deny')];
  writeFileSync(allow, '');
  writeFileSync(deny, 'mux-line: 127.0.0.2\ntcpmux: 127.0.0.3\n');
  const xLog = join(dir, 'xinetd-services.log');
  const conf = join(dir, 'xinetd.conf');
  writeFileSync(conf, renderConfig(services(px), { log_type: `FILE ${xLog}`, log_on_success: 'PID HOST EXIT DURATION', log_on_failure: 'HOST' }));
  const xinetd = await startXinetd(t, conf, join(dir, 'xinetd-daemon.log'), [
    [allow, '/etc/hosts.allow'],
    [deny, '/etc/hosts.deny'],
  ]);
  const ours = await startDaemon(t, { services: services(pt), args: ['--hosts-allow', allow, '--hosts-deny', deny] });
  const xServiceLog = (): string => (existsSync(xLog) ? readFileSync(xLog, 'utf8') : '');
  const cases = [
    { from: '127.0.0.2', send: 'plus\r\n', then: 'x\n' },
    { from: '127.0.0.2', send: 'nosuch\r\n' },
    { from: '127.0.0.1', send: 'plus\r\n', then: 'y\n' },
    { from: '127.0.0.3', send: 'plus\r\n' },
  ];
  for (const [i, c] of cases.entries()) {
    const opts = { localAddress: c.from, ...(c.then !== undefined ? { then: c.then } : {}) };
    const x = await muxExchange(px, c.send, opts);
    const o = await muxExchange(pt, c.send, opts);
    // A refused tcpmux client is closed with its request unread: a reset or an end, as it comes.
    const norm = (r: TcpReply): string => shown(r).replace(/ ECONNRESET$/, ' eof');
    assert.equal(norm(o), norm(x), `${JSON.stringify(c.send)} from ${c.from}`);
    await waitFor(() => (ends(xServiceLog()) > i && ends(ours.serviceLog()) > i ? true : undefined), 10_000, `the lines of case ${i}`);
  }
  // tsinetd decides before it starts anything: no START and EXIT of a fork around tcpmux's FAIL
  // line (xinetd's parent and child write them in either order: dropped by the fork's pid).
  const withoutFork = (log: string): string => {
    const pids = [...log.matchAll(/START: tcpmux pid=(\d+) from=::ffff:127\.0\.0\.3$/gm)].map((m) => m[1]);
    return log
      .split('\n')
      .filter((l) => !pids.some((p) => l.includes(`pid=${p} `) || l.endsWith(`pid=${p}`)))
      .join('\n');
  };
  assert.deepEqual(mask(ours.serviceLog()), mask(withoutFork(xServiceLog())));
  assert.ok(mask(ours.serviceLog()).includes('FAIL: tcpmux libwrap from=::ffff:127.0.0.3'), ours.serviceLog());
  // The refusal lines of the daemon logs, in libwrap's words.
  const refusals = (log: string): string[] => log.split('\n').flatMap((l) => /libwrap refused connection to .*/.exec(l) ?? []);
  await waitFor(() => (refusals(ours.daemonLog()).length >= 2 ? true : undefined), 5000, 'our refusal lines');
  assert.deepEqual(refusals(ours.daemonLog()), refusals(xinetd.log()));
  assert.deepEqual(refusals(xinetd.log()), [
    'libwrap refused connection to plus (libwrap=mux-line) from ::ffff:127.0.0.2',
    'libwrap refused connection to tcpmux (libwrap=tcpmux) from ::ffff:127.0.0.3',
  ]);
});
