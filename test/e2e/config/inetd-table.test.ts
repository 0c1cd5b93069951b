// The whole service table: the xinetd configuration and the inetd.conf files (--inetd FILE,
// -inetd_compat's /etc/inetd.conf) loaded together, as --check and the daemon both do.
//   - Which files a run reads: the same for --check, --dump and the daemon; with -inetd_compat an
//     absent /etc/inetd.conf is skipped without a word (as real xinetd does), a present one is read.
//   - Port clashes across the two kinds of file: the service bound first (the xinetd one) keeps
//     the port, the inetd.conf one is turned off with an error at its line that names the winner,
//     and the daemon binds the port once (no retrying against its own socket), as real xinetd
//     -inetd_compat leaves the port to its own service. On a reload the service bound already
//     binds first: a new xinetd service on the port of a served inetd.conf one is the one turned
//     off, as real xinetd's reload does (it readjusts the served one; the new one's bind fails).
// /etc/inetd.conf is never created on the machine: the tests that need one run the daemons in a
// mount namespace whose /etc is an overlay with a scratch upper layer (skipped without root).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { CLI, internalService, renderConfig, runCli, startDaemon, TEST_USER, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, tcpRequest, waitFor } from '../../helpers/net.js';
import { listeningInodes } from '../../helpers/proc.js';
import { tempDir } from '../../helpers/temp.js';
import { noMountNamespace, noXinetd, startWithEtc, withEtc, XINETD } from '../../helpers/xinetd.js';

const COMPAT = '/etc/inetd.conf';
const noNamespace = noMountNamespace();

/** An xinetd configuration with one internal daytime service on `port`, logging to `log`; its path and the line of the service. */
function daytimeConf(dir: string, port: number, log: string): { conf: string; line: number } {
  const conf = join(dir, 'xinetd.conf');
  const text = renderConfig([internalService('daytime', port, 'stream')], { log_type: `FILE ${log}` });
  writeFileSync(conf, text);
  return { conf, line: text.split('\n').indexOf('service daytime') + 1 };
}

/** An inetd.conf line: `cat` as a nowait stream server on `service` (a name or a port). */
const catLine = (service: string | number): string => `${service}\tstream\ttcp\tnowait\t${TEST_USER}\t/bin/cat\tcat\n`;

/** Rule files the tests own (absent), never the machine's. */
const hostsArgs = (dir: string): string[] => ['--hosts-allow', join(dir, 'hosts.allow'), '--hosts-deny', join(dir, 'hosts.deny')];

const isDaytime = (text: string): boolean => /^\d\d [A-Z]{3} \d{4}/.test(text);

test('--check: a service of an --inetd file on the port of an xinetd service is an error at its line, naming the winner', async (t) => {
  const dir = tempDir(t, 'table-check');
  const port = await freePort();
  const { conf, line } = daytimeConf(dir, port, join(dir, 'services.log'));
  const inetd = join(dir, 'inetd.conf');
  writeFileSync(inetd, catLine(port));
  const r = await runCli(['--check', '-f', conf, '--inetd', inetd, ...hostsArgs(dir)]);
  assert.equal(r.code, 1, r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.includes(': error: '));
  assert.deepEqual(errors, [
    `${inetd}:1:1: error: port ${port}/tcp on all addresses is already used by service 'daytime' (id daytime-stream) (${conf}:${line}); ` +
      `xinetd cannot start service '${port}' either (its bind fails): it is disabled [port-clash]`,
  ]);
  assert.match(r.stderr, /tsinetd: 2 services \(1 enabled\), 1 error, /);
});

test('the daemon: the xinetd service keeps the port, the inetd.conf one is turned off once, with no bind retry', async (t) => {
  const dir = tempDir(t, 'table-serve');
  const port = await freePort();
  const inetd = join(dir, 'inetd.conf');
  writeFileSync(inetd, catLine(port));
  // Retries 20 ms apart: a daemon retrying against its own socket would log within the wait below.
  const d = await startDaemon(t, {
    services: [internalService('daytime', port, 'stream')],
    args: ['--inetd', inetd],
    env: { ...process.env, TSINETD_BIND_RETRY_MS: '20' },
  });
  await d.waitForDaemonLog(/Started working: 1 available service$/m);
  await new Promise((r) => setTimeout(r, 400));
  const log = d.daemonLog().split('\n');
  const clash = log.filter((l) => l.includes('already used by'));
  assert.equal(clash.length, 1, d.daemonLog());
  assert.ok(clash[0]!.includes(`ERROR: ${inetd}:1:1: error: port ${port}/tcp on all addresses is already used by service 'daytime'`), clash[0]);
  assert.deepEqual(
    log.filter((l) => /bind failed|bind retry/.test(l)),
    [],
  );
  assert.equal(listeningInodes(port).size, 1);
  assert.ok(isDaytime((await tcpRequest({ port })).data.toString()));
});

test('a reload adding an xinetd service on the port of a served inetd.conf one: the one bound first keeps it, the other is turned off once, no bind retry', async (t) => {
  const dir = tempDir(t, 'table-reload');
  const port = await freePort();
  const inetd = join(dir, 'inetd.conf');
  writeFileSync(inetd, catLine(port));
  const d = await startDaemon(t, { services: [], args: ['--inetd', inetd], env: { ...process.env, TSINETD_BIND_RETRY_MS: '20' } });
  await d.waitForDaemonLog(/Started working: 1 available service$/m);
  const before = [...listeningInodes(port)];
  d.rewrite([internalService('daytime', port, 'stream')]);
  const line = readFileSync(d.config, 'utf8').split('\n').indexOf('service daytime') + 1;
  d.signal('SIGHUP');
  const reconfigured = await d.waitForDaemonLog(/Reconfigured: /);
  // Retries 20 ms apart: a daemon retrying against its own socket would log within the wait below.
  await new Promise((r) => setTimeout(r, 400));
  const log = d.daemonLog().split('\n');
  const clash = log.filter((l) => l.includes('already used by'));
  assert.deepEqual(
    clash.map((l) => l.replace(/^.*?: ERROR: /, '')),
    [
      `${d.config}:${line}:9: error: port ${port}/tcp on all addresses is already used by service '${port}' (${inetd}:1); ` +
        `xinetd cannot start service 'daytime' (id daytime-stream) either (its bind fails): it is disabled [port-clash]`,
    ],
    d.daemonLog(),
  );
  assert.deepEqual(
    log.filter((l) => /bind failed|bind retry/.test(l)),
    [],
    d.daemonLog(),
  );
  assert.match(reconfigured, /Reconfigured: new=0 old=1 dropped=0/);
  // The inetd.conf service goes on serving on the socket it had.
  assert.deepEqual([...listeningInodes(port)], before);
  assert.equal((await tcpRequest({ port, send: 'ping\n' })).data.toString(), 'ping\n');
});

/**
 * Starts `argv0 -dontfork -inetd_compat` (real xinetd or tsinetd) on an xinetd configuration
 * with `services`, in a mount namespace whose /etc/inetd.conf runs `cat` as service `name` on
 * `port` (named in its /etc/services). Resolves once it works: its log, pid, and a rewrite of
 * its configuration (send SIGHUP after).
 */
async function startCompat(
  t: TestContext,
  dir: string,
  tag: string,
  argv0: readonly string[],
  name: string,
  port: number,
  services: ServiceDef[],
): Promise<{ log: string; pid: number; rewrite(services: ServiceDef[]): void }> {
  const log = join(dir, `${tag}.log`);
  const conf = join(dir, `${tag}.conf`);
  const defaults = { log_type: `FILE ${join(dir, `${tag}-services.log`)}` };
  const rewrite = (list: ServiceDef[]): void => writeFileSync(conf, renderConfig(list, defaults));
  rewrite(services);
  const etc = { 'inetd.conf': catLine(name), services: `${readFileSync('/etc/services', 'utf8')}\n${name}\t${port}/tcp\n` };
  const pid = await startWithEtc(t, dir, tag, etc, [...argv0, '-dontfork', '-inetd_compat', '-f', conf, '-filelog', log], log);
  return { log, pid, rewrite };
}

test(
  'as real xinetd -inetd_compat: the /etc/inetd.conf service on the port of an xinetd.d one is the one left out',
  { skip: noXinetd || noNamespace, timeout: 60_000 },
  async (t) => {
    const dir = tempDir(t, 'table-xinetd');
    const name = 'tsinetd-clash';
    const started = async (tag: string, argv0: readonly string[], port: number): Promise<string> => {
      const { log } = await startCompat(t, dir, tag, argv0, name, port, [internalService('daytime', port, 'stream')]);
      assert.ok(isDaytime((await tcpRequest({ port })).data.toString()), `${tag} serves daytime on ${port}`);
      return readFileSync(log, 'utf8');
    };
    const theirs = await started('xinetd', [XINETD], await freePort());
    assert.match(theirs, new RegExp(`ERROR: Service ${name} failed to start and is deactivated\\.`));
    assert.match(theirs, /Started working: 1 available service$/m);
    const ours = await started('tsinetd', [process.execPath, CLI, ...hostsArgs(dir)], await freePort());
    assert.match(
      ours,
      new RegExp(`ERROR: ${COMPAT}:1:1: error: port \\d+/tcp on all addresses is already used by service 'daytime' .* service '${name}' either`),
    );
    assert.match(ours, /Started working: 1 available service$/m);
  },
);

test(
  'as real xinetd -inetd_compat on a reload: a new xinetd.d service on the port of the served /etc/inetd.conf one is the one left out',
  { skip: noXinetd || noNamespace, timeout: 60_000 },
  async (t) => {
    const dir = tempDir(t, 'table-reload-xinetd');
    const name = 'tsinetd-clash';
    const reloaded = async (tag: string, argv0: readonly string[], port: number): Promise<string> => {
      const compat = await startCompat(t, dir, tag, argv0, name, port, []);
      const { log, pid } = compat;
      compat.rewrite([internalService('daytime', port, 'stream')]);
      process.kill(pid, 'SIGHUP');
      await waitFor(() => (readFileSync(log, 'utf8').includes('Reconfigured:') ? true : undefined), 10_000, `${tag} to reload`);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await tcpRequest({ port, send: 'ping\n' })).data.toString(), 'ping\n', `${tag}: the inetd.conf service still serves ${port}`);
      return readFileSync(log, 'utf8');
    };
    const theirs = await reloaded('xinetd', [XINETD], await freePort());
    // xinetd keeps the bound service (readjusted), and gives the new one up after its bind retries.
    assert.match(theirs, new RegExp(`NOTICE: readjusting service ${name}$`, 'm'));
    assert.match(theirs, /ERROR: Service daytime-stream failed to start and is deactivated\.$/m);
    assert.match(theirs, /Reconfigured: new=0 old=1 dropped=0 \(services\)$/m);
    const ours = await reloaded('tsinetd', [process.execPath, CLI, ...hostsArgs(dir)], await freePort());
    assert.match(ours, new RegExp(`NOTICE: readjusting service ${name}$`, 'm'));
    assert.match(
      ours,
      new RegExp(
        `ERROR: .*:\\d+:9: error: port \\d+/tcp on all addresses is already used by service '${name}' \\(${COMPAT}:1\\); xinetd cannot start service 'daytime'`,
      ),
    );
    assert.match(ours, /Reconfigured: new=0 old=1 dropped=0 \(services\)$/m);
    assert.doesNotMatch(ours, /bind retry|will try to bind again/);
  },
);

test(
  '-inetd_compat without /etc/inetd.conf: --check, --dump and the daemon read the same files, without a word about it',
  { skip: existsSync(COMPAT) ? `${COMPAT} exists on this machine` : false },
  async (t) => {
    const dir = tempDir(t, 'table-absent');
    const port = await freePort();
    const { conf } = daytimeConf(dir, port, join(dir, 'services.log'));
    const check = await runCli(['--check', '-f', conf, '-inetd_compat', ...hostsArgs(dir)]);
    assert.equal(check.code, 0, check.stderr);
    assert.doesNotMatch(check.stderr, /inetd\.conf/);
    assert.match(check.stderr, /tsinetd: 1 service \(1 enabled\), 0 errors/);
    const dump = await runCli(['--dump', '-f', conf, '-inetd_compat', ...hostsArgs(dir)]);
    assert.equal(dump.code, 0, dump.stderr);
    const services = (JSON.parse(dump.stdout) as { services: { id: string; enabled: boolean }[] }).services;
    assert.deepEqual(
      services.map((s) => [s.id, s.enabled]),
      [['daytime-stream', true]],
    );
    const d = await startDaemon(t, { services: [internalService('daytime', port, 'stream')], args: ['-inetd_compat'] });
    await d.waitForDaemonLog(/Started working: 1 available service$/m);
    assert.doesNotMatch(d.daemonLog(), /inetd\.conf/);
  },
);

test('-inetd_compat with an /etc/inetd.conf: --check and the daemon both read it', { skip: noNamespace, timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, 'table-present');
  const [port, catPort] = [await freePort(), await freePort()];
  const { conf } = daytimeConf(dir, port, join(dir, 'services.log'));
  const etc = { 'inetd.conf': catLine(catPort) };
  const [cmd, ...args] = withEtc(dir, 'check', etc, [process.execPath, CLI, '--check', '-f', conf, '-inetd_compat', ...hostsArgs(dir)]);
  const check = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 20_000 });
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stderr, new RegExp(`tsinetd: ${COMPAT}: read as `));
  assert.match(check.stderr, /tsinetd: 2 services \(2 enabled\), 0 errors/);
  const log = join(dir, 'daemon.log');
  await startWithEtc(t, dir, 'daemon', etc, [process.execPath, CLI, '-dontfork', '-inetd_compat', '-f', conf, '-filelog', log, ...hostsArgs(dir)], log);
  assert.match(readFileSync(log, 'utf8'), /Started working: 2 available services$/m);
  const echoed = await tcpRequest({ port: catPort, send: 'ping\n' });
  assert.equal(echoed.data.toString(), 'ping\n');
});
