// TCPMUX side by side: the real xinetd 2.3.15.3 and tsinetd on the same configuration (only the
// port and the TCPMUX services' log files differ) get the same requests, one at a time; the bytes
// each client gets back, how the connection ends, and the service log lines (time stamps, pids
// and durations masked) must be the same: with banners of tcpmux and of the TCPMUX services, and
// request lines around the 1024 bytes of xinetd's one read, with and without data behind them. Then TCP wrappers: hosts.deny refusing the TCPMUX services' server from 127.0.0.2,
// and tcpmux itself from 127.0.0.3 (xinetd reads the files at their system paths, bind-mounted
// in a mount namespace of its own; tsinetd is given their paths). Skipped without the real
// xinetd, or without root (xinetd switches to `user`, and mounts).

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderConfig, startDaemon, type Attrs, type ServiceDef } from '../../helpers/daemon.js';
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

/** Names of the lengths that make a request line of 1021, 1023 and 1024 bytes with its CR LF. */
const LONG = { 1019: 'b'.repeat(1019), 1021: 'c'.repeat(1021), 1022: 'a'.repeat(1022) } as const;

/**
 * The first test's: TCPMUX services with banners, banner_fail
 * (one naming a missing file) and log files of their own, and TCPMUXPLUS services with names
 * long enough to fill xinetd's one read of 1024 bytes. `tag` keeps the two daemons' log files apart.
 */
function bannerServices(port: number, dir: string, tag: string): ServiceDef[] {
  const banner = (name: string): string => join(dir, name);
  const fail = { only_from: '127.0.0.1', banner_fail: banner('target-fail') };
  return [
    tcpmuxService(port),
    muxLineService('plus', 'TCPMUXPLUS', {
      banner: banner('target-always'),
      banner_success: banner('target-success'),
      banner_fail: banner('target-fail'),
      log_type: `FILE ${join(dir, `${tag}-plus.log`)}`,
    }),
    muxLineService('plain', 'TCPMUX', {
      banner: banner('target-always'),
      banner_success: banner('target-success'),
      log_type: `FILE ${join(dir, `${tag}-plain.log`)}`,
    }),
    muxLineService('closed', 'TCPMUXPLUS', { only_from: '127.0.0.1' }),
    muxLineService('closedb', 'TCPMUXPLUS', { ...fail, banner_success: banner('target-success') }),
    muxLineService('closedp', 'TCPMUX', fail),
    muxLineService('closedm', 'TCPMUXPLUS', { only_from: '127.0.0.1', banner_fail: banner('missing') }),
    ...Object.values(LONG).map((name) => muxLineService(name, 'TCPMUXPLUS')),
  ];
}

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
  // Refused with a banner_fail: "+Go" (TCPMUXPLUS) and the banner; with a missing one, nothing.
  // (Nothing sent after a reply that the daemon closes on: it would race the close into a reset.)
  { send: 'closedb\r\n', from: '127.0.0.2' },
  { send: 'closedb\r\n', from: '127.0.0.1', then: 'y\n' },
  { send: 'closedp\r\n', from: '127.0.0.2' },
  { send: 'closedm\r\n', from: '127.0.0.2' },
  // Lines of 1021 to 1025 bytes, alone and with data behind them in the same write: only what
  // one read of 1024 bytes sees decides, and what it leaves is the program's.
  ...[1019, 1020, 1021, 1022, 1023].flatMap((n) => {
    const name = n in LONG ? LONG[n as keyof typeof LONG] : 'a'.repeat(n);
    return [n in LONG ? { send: `${name}\r\n`, then: 'then\n' } : { send: `${name}\r\n` }, { send: `${name}\r\nextra\n` }];
  }),
];

const mask = maskServiceLog;

const ends = (log: string): number => mask(log).filter((l) => /^(EXIT|FAIL): /.test(l)).length;

const shown = (r: TcpReply): string => `${JSON.stringify(r.data.toString('latin1'))} ${r.ended}`;

test('TCPMUX: the same bytes on the wire and the same service lines as real xinetd', { skip }, async (t) => {
  const [px, pt] = [await freePort(), await freePort()];
  const dir = tempDir(t, 'tcpmux-xinetd');
  for (const name of ['target-always', 'target-success', 'target-fail']) writeFileSync(join(dir, name), `${name.toUpperCase()}\n`);
  const xLog = join(dir, 'xinetd-services.log');
  const conf = join(dir, 'xinetd.conf');
  const defaults = (log: string): Attrs => ({ log_type: `FILE ${log}`, log_on_success: 'PID HOST EXIT DURATION', log_on_failure: 'HOST' });
  writeFileSync(conf, renderConfig(bannerServices(px, dir, 'xinetd'), defaults(xLog)));
  const xinetd = await startXinetd(t, conf, join(dir, 'xinetd-daemon.log'));
  const ours = await startDaemon(t, { services: bannerServices(pt, dir, 'ours') });
  const xServiceLog = (): string => (existsSync(xLog) ? readFileSync(xLog, 'utf8') : '');
  // xinetd counts the services that listen: tcpmux alone.
  assert.equal(xinetd.started, 1);
  await ours.waitForDaemonLog(/Started working: 1 available service/);

  for (const [i, r] of REQUESTS.entries()) {
    const opts = { ...(r.from !== undefined ? { localAddress: r.from } : {}), ...(r.then !== undefined ? { then: r.then } : {}) };
    const x = await muxExchange(px, r.send, opts);
    const o = await muxExchange(pt, r.send, opts);
    const what = `request ${JSON.stringify(r.send.length > 40 ? `${r.send.slice(0, 8)}…(${r.send.length} bytes)` : r.send)} from ${r.from ?? '127.0.0.1'}`;
    assert.equal(shown(o), shown(x), what);
    // One START and one EXIT each (xinetd logs EXIT when it reaps its child).
    await waitFor(() => (ends(xServiceLog()) > i && ends(ours.serviceLog()) > i ? true : undefined), 10_000, `the lines of ${what}`);
  }
  assert.deepEqual(mask(ours.serviceLog()), mask(xServiceLog()));
  assert.equal(mask(ours.serviceLog()).length, 2 * REQUESTS.length);
  // Where xinetd's child runs no program its own pid is logged; tsinetd, which forks none, logs
  // pid 0 there, and the program's pid wherever one ran.
  for (const exit of ours.serviceLog().matchAll(/EXIT: tcpmux status=(\d+) pid=(\d+)/g)) assert.equal(exit[1] === '3', exit[2] !== '0', exit[0]);
  // The TCPMUX services' own log files are never opened: their clients are tcpmux's.
  for (const tag of ['xinetd', 'ours']) for (const s of ['plus', 'plain']) assert.equal(existsSync(join(dir, `${tag}-${s}.log`)), false, `${tag}-${s}.log`);
  // The missing banner_fail: the same line in both daemon logs.
  const missing = (log: string): string[] => log.split('\n').flatMap((l) => /service = closedm, open of banner .* failed/.exec(l) ?? []);
  await waitFor(() => (missing(ours.daemonLog()).length > 0 ? true : undefined), 5000, 'our banner line');
  assert.deepEqual(missing(ours.daemonLog()), missing(xinetd.log()));
  assert.equal(missing(xinetd.log()).length, 1);
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
