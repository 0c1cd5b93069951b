// The deployment examples (examples/), tested as far as this machine allows:
// - Dockerfile: no Docker engine here, so the runtime image's files are copied from the checkout
//   as its COPY lines say, and its ENTRYPOINT and CMD run from that copy under tini as PID 1 of a new PID namespace, as in the
//   container; the HEALTHCHECK command is run against it; `docker stop` is a SIGTERM to tini.
// - tsinetd.service: `systemd-analyze verify`, then its ExecStart under a stand-in systemd
//   (NOTIFY_SOCKET) and its ExecReload; `systemd-analyze security --offline` scores its
//   hardening; its capability bounding set (applied with setpriv) still lets in.tftpd and a root
//   rsync daemon do their work. No real systemd runs here, so its system call filter and
//   mount settings are scored, not run.
// - fail2ban/jail.local: loaded by fail2ban-client next to the stock configuration; its
//   tsinetd-file jail finds the addresses in the FAIL lines of a running tsinetd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { userInfo } from 'node:os';
import { basename, join } from 'node:path';
import { CLI, have, internalService, programService, ROOT, startDaemon } from '../../helpers/daemon.js';
import { fakeSystemd } from '../../helpers/fake-systemd.js';
import { freePort, tcpRequest, waitFor, withTimeout } from '../../helpers/net.js';
import { TFTP, TFTPD, tftpdService } from '../../helpers/packages.js';
import { parsePrometheusText, sampleValue } from '../../helpers/prometheus.js';
import { tempDir } from '../../helpers/temp.js';

const EXAMPLES = join(ROOT, 'examples');
/** Where the image puts the checkout (WORKDIR of examples/Dockerfile). */
const IMAGE_ROOT = '/opt/tsinetd';

// ---- Dockerfile ---------------------------------------------------------------------------

/** The instructions of a Dockerfile, continuation lines joined, comments dropped. */
function dockerInstructions(text: string): Array<{ op: string; args: string }> {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l)!;
      return { op: m[1]!.toUpperCase(), args: m[2]! };
    });
}

function execForm(args: string): string[] {
  const v = JSON.parse(args) as unknown;
  assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'string'), `exec form expected: ${args}`);
  return v;
}

function findTini(): string | null {
  for (const p of ['/usr/bin/tini', '/opt/tini-ref/usr/bin/tini']) if (existsSync(p)) return p;
  return null;
}

const tini = findTini();
const isRoot = process.getuid?.() === 0;
const canUnshare = isRoot && have('unshare') && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            body += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', reject);
    }),
    5000,
    `GET ${path}`,
  );
}

/** pids whose command line mentions `needle` and whose environment has `envVar`. */
function findProcesses(needle: string, envVar: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const cmd = readFileSync(`/proc/${n}/cmdline`, 'utf8');
      if (!cmd.includes(needle)) continue;
      if (readFileSync(`/proc/${n}/environ`, 'utf8').split('\0').includes(envVar)) out.push(Number(n));
    } catch {
      // gone
    }
  }
  return out;
}

test(
  'Dockerfile: ENTRYPOINT + CMD under tini serve the health monitor and metrics; HEALTHCHECK follows the app; docker stop exits 0',
  { skip: tini === null ? 'tini is not installed (Debian package tini, or unpacked in /opt/tini-ref)' : false },
  async (t) => {
    const ins = dockerInstructions(readFileSync(join(EXAMPLES, 'Dockerfile'), 'utf8'));
    const last = (op: string): string => ins.filter((i) => i.op === op).at(-1)!.args;
    assert.deepEqual(
      ins.filter((i) => i.op === 'FROM').map((i) => i.args.split(/\s+/)[0]),
      ['node:20-bookworm', 'node:20-bookworm-slim'],
    );
    assert.equal(last('WORKDIR'), IMAGE_ROOT);
    assert.equal(last('USER'), 'node');
    assert.deepEqual(last('EXPOSE').split(/\s+/), ['7101', '9105']);
    const entrypoint = execForm(last('ENTRYPOINT'));
    const cmd = execForm(last('CMD'));
    const healthcheck = execForm(/CMD\s+(\[.*\])$/.exec(last('HEALTHCHECK'))![1]!);
    assert.equal(entrypoint[0], '/usr/bin/tini');

    // The image's files: exactly what the runtime stage's COPY lines take from the build stage (a
    // checkout after `npm ci`: this one), so a file the runtime needs and does not get fails here.
    // The ports made free ones; `node` (the image's user) → us.
    const dir = tempDir(t, 'examples');
    const image = join(dir, 'image');
    const runtimeFrom = ins.map((i) => i.op).lastIndexOf('FROM');
    for (const copy of ins.slice(runtimeFrom).filter((i) => i.op === 'COPY')) {
      const [from, src, dest] = copy.args.split(/\s+/) as [string, string, string];
      assert.equal(from, '--from=build');
      assert.ok(src.startsWith(`${IMAGE_ROOT}/`), src);
      const target = dest.endsWith('/') ? join(image, dest, basename(src)) : join(image, dest);
      cpSync(join(ROOT, src.slice(IMAGE_ROOT.length + 1)), target, { recursive: true });
    }
    assert.ok(!existsSync(join(image, 'node_modules')), 'the bundle needs no node_modules');
    const [monitorPort, appPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const conf = join(dir, 'xinetd.conf');
    const confText = readFileSync(join(EXAMPLES, 'container', 'xinetd.conf'), 'utf8');
    assert.match(confText, /port\s+= 7101\n/);
    writeFileSync(
      conf,
      confText
        .replaceAll(IMAGE_ROOT, image)
        .replace(/port(\s+)= 7101\n/, `port$1= ${monitorPort}\n`)
        .replace('HEALTH_PORT=8080', `HEALTH_PORT=${appPort}`)
        .replace(/user(\s+)= node\n/, `user$1= ${userInfo().username}\n`),
    );
    const fromImage = (arg: string): string =>
      arg === '/usr/bin/tini'
        ? tini!
        : arg === `${IMAGE_ROOT}/examples/container/xinetd.conf`
          ? conf
          : arg === ':9105'
            ? `127.0.0.1:${metricsPort}`
            : arg.replaceAll(IMAGE_ROOT, image);
    // tini is PID 1 in the container; elsewhere it has to be made a subreaper (-s).
    const argv = [...(canUnshare ? ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc'] : []), ...entrypoint.map(fromImage), ...cmd.map(fromImage)];
    if (!canUnshare) argv.splice(1, 0, '-s');
    const env = { ...process.env, APP_PORT: String(appPort) };
    const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const appMark = `APP_PORT=${appPort}`;
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
      for (const pid of findProcesses('examples/container/app.mjs', appMark)) process.kill(pid, 'SIGKILL');
    });

    await waitFor(async () => ((await get(metricsPort, '/ready').catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 15_000, `/ready\n${stderr}`);
    await waitFor(() => (findProcesses('examples/container/app.mjs', appMark).length > 0 ? true : undefined), 5000, 'the application');
    const monitor = async (): Promise<{ status: string; message?: string }> => {
      const text = (await tcpRequest({ port: monitorPort, timeoutMs: 10_000 })).data.toString();
      assert.match(text, /^\{.*\}\n$/, 'one JSON line, nothing else');
      return JSON.parse(text) as { status: string; message?: string };
    };
    await waitFor(async () => ((await monitor()).status === 'OK' ? true : undefined), 5000, 'the monitor to report OK');
    const check = (): { status: number | null; out: string } => {
      const r = spawnSync(healthcheck[0]!, healthcheck.slice(1).map(fromImage), {
        env: { ...process.env, HEALTH_MONITOR_PORT: String(monitorPort) },
        encoding: 'utf8',
        timeout: 10_000,
      });
      return { status: r.status, out: r.stdout };
    };
    assert.deepEqual(check(), { status: 0, out: 'healthy\n' });

    const m = parsePrometheusText((await get(metricsPort, '/metrics')).body);
    assert.ok((sampleValue(m, 'tsinetd_connections_total', { service: 'health-monitor', result: 'accepted' }) ?? 0) >= 2);
    // Service lines go to the container log (standard output).
    await waitFor(() => (/START: health-monitor pid=\d+ from=/.test(stdout) ? true : undefined), 5000, `START lines on stdout\n${stdout}`);

    // The application stops: the monitor and the HEALTHCHECK say so.
    for (const pid of findProcesses('examples/container/app.mjs', appMark)) process.kill(pid, 'SIGTERM');
    await waitFor(() => (findProcesses('examples/container/app.mjs', appMark).length === 0 ? true : undefined), 5000, 'the application to stop');
    const down = await monitor();
    assert.equal(down.status, 'ERROR');
    const unhealthy = check();
    assert.equal(unhealthy.status, 1);
    assert.match(unhealthy.out, /^unhealthy: cannot connect to 127\.0\.0\.1:\d+\n$/);

    // docker stop: SIGTERM to PID 1.
    const tiniPid = canUnshare ? await waitFor(() => childOf(child.pid!), 2000, 'tini') : child.pid!;
    process.kill(tiniPid, 'SIGTERM');
    assert.equal(await withTimeout(exited, 10_000, 'the container to stop').catch((err: unknown) => assert.fail(`${String(err)}\n${stderr}`)), 0);
    assert.match(stderr, /Exiting\.\.\./);
  },
);

function childOf(pid: number): number | undefined {
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) return Number(n);
    } catch {
      // gone
    }
  }
  return undefined;
}

// ---- systemd unit -------------------------------------------------------------------------

function unitValue(unit: string, key: string): string {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(unit);
  assert.ok(m !== null, `${key}= in the unit`);
  return m[1]!;
}

test(
  'tsinetd.service: systemd-analyze verify accepts it; its ExecStart reports READY=1 and its ExecReload reloads',
  { skip: !have('python3') || !have('systemd-notify') ? 'python3 or systemd-notify is not installed' : false },
  async (t) => {
    const dir = tempDir(t, 'examples');
    const unit = readFileSync(join(EXAMPLES, 'tsinetd.service'), 'utf8');
    assert.equal(unitValue(unit, 'Type'), 'notify');
    const execStart = unitValue(unit, 'ExecStart').split(/\s+/);
    assert.equal(execStart[0], '/usr/bin/tsinetd');
    const here = [process.execPath, CLI];

    if (have('systemd-analyze')) {
      const copy = join(dir, 'tsinetd.service');
      writeFileSync(copy, unit.replace('/usr/bin/tsinetd', here.join(' ')));
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), '');
    } else {
      t.diagnostic('systemd-analyze is not installed: the unit was not verified');
    }

    // ExecStart with this checkout's tsinetd and test files in place of /etc and /run; daemon
    // messages to a file instead of the syslog socket.
    const port = await freePort();
    const conf = join(dir, 'xinetd.conf');
    writeFileSync(
      conf,
      `service echo\n{\n\ttype = INTERNAL UNLISTED\n\tport = ${port}\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tbind = 127.0.0.1\n}\n`,
    );
    const args = execStart
      .slice(1)
      .join(' ')
      .replace('/etc/xinetd.conf', conf)
      .replace('/run/tsinetd.pid', join(dir, 'tsinetd.pid'))
      .replace('-syslog daemon', `-filelog ${join(dir, 'daemon.log')}`)
      .split(' ');
    const fake = await fakeSystemd(t, dir);
    const child = spawn(here[0]!, [here[1]!, ...args], { env: { ...process.env, NOTIFY_SOCKET: fake.path }, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const ready = await waitFor(() => fake.messages.find((m) => m.vars['READY'] === '1'), 15_000, 'READY=1');
    assert.equal(ready.vars['MAINPID'], String(child.pid));
    assert.equal((await tcpRequest({ port, send: 'unit' })).data.toString(), 'unit');

    // ExecReload, with $MAINPID as systemd fills it in.
    const reload = unitValue(unit, 'ExecReload').replace('$MAINPID', ready.vars['MAINPID']).split(/\s+/);
    assert.equal(spawnSync(reload[0]!, reload.slice(1)).status, 0);
    await waitFor(() => (fake.messages.filter((m) => m.vars['READY'] === '1').length === 2 ? true : undefined), 5000, 'READY=1 after the reload');
    assert.equal(fake.messages[1]!.vars['RELOADING'], '1');
    // The daemon's log lines are written a few milliseconds after the notification is sent.
    await waitFor(
      () => (/Reconfigured: new=0 old=1 dropped=0/.test(readFileSync(join(dir, 'daemon.log'), 'utf8')) ? true : undefined),
      5000,
      () => `the Reconfigured line; the log then:\n${readFileSync(join(dir, 'daemon.log'), 'utf8')}`,
    );

    child.kill('SIGTERM');
    assert.equal(await withTimeout(exited, 5000, 'tsinetd to stop'), 0);
    assert.equal(fake.messages.at(-1)!.vars['STOPPING'], '1');
  },
);

/** Every value of `key` in the unit (a key given on several lines accumulates, as systemd reads it). */
function unitValues(unit: string, key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!);
}

/** The capabilities in the unit's CapabilityBoundingSet= lines, lower case without `cap_`. */
function boundingSet(unit: string): Set<string> {
  const caps = unitValues(unit, 'CapabilityBoundingSet').flatMap((v) => v.trim().split(/\s+/));
  assert.ok(caps.length > 0 && caps.every((c) => /^CAP_[A-Z_]+$/.test(c)), `an allow-list of capabilities: ${caps.join(' ')}`);
  return new Set(caps.map((c) => c.slice(4).toLowerCase()));
}

/**
 * The exposure `systemd-analyze security --offline=true` gave the unit when its hardening was
 * written (it was 9.8 without): a unit that loses some of it scores higher and fails.
 */
const EXPOSURE_MAX = 8.2;

/** What the servers of a super-server need (the unit's comment says which server needs what). */
const CAPS_SERVERS_NEED = [
  'setuid',
  'setgid',
  'setpcap',
  'kill',
  'net_bind_service',
  'net_raw',
  'chown',
  'fowner',
  'fsetid',
  'dac_override',
  'dac_read_search',
  'mknod',
  'sys_chroot',
  'sys_nice',
  'sys_resource',
  'sys_tty_config',
  'audit_write',
  'audit_control',
  'sys_admin',
  'sys_rawio',
  'sys_ptrace',
];
/** Settings that would break servers (the unit's "Deliberately NOT set" list), with the value that is harmless. */
const SETTINGS_SERVERS_CANNOT_BEAR: Array<[string, RegExp]> = [
  ['NoNewPrivileges', /^(no|false)$/],
  ['MemoryDenyWriteExecute', /^(no|false)$/],
  ['ProtectSystem', /^(no|false)$/],
  ['ProtectHome', /^(no|false)$/],
  ['PrivateTmp', /^(no|false)$/],
  ['PrivateDevices', /^(no|false)$/],
  ['RestrictSUIDSGID', /^(no|false)$/],
  ['PrivateUsers', /^(no|false)$/],
  ['PrivateNetwork', /^(no|false)$/],
  ['User', /^root$/],
  ['DynamicUser', /^(no|false)$/],
];

test(`tsinetd.service: systemd-analyze security --offline scores its exposure at most ${EXPOSURE_MAX}, without taking from servers what they need`, (t) => {
  const unit = readFileSync(join(EXAMPLES, 'tsinetd.service'), 'utf8');
  // What servers need stays, whatever the score (these checks need no systemd).
  const caps = boundingSet(unit);
  for (const c of CAPS_SERVERS_NEED) assert.ok(caps.has(c), `CapabilityBoundingSet keeps CAP_${c.toUpperCase()}`);
  for (const [key, harmless] of SETTINGS_SERVERS_CANNOT_BEAR) {
    for (const v of unitValues(unit, key)) assert.match(v, harmless, `${key}=${v} would break servers`);
  }
  const filters = unitValues(unit, 'SystemCallFilter');
  for (const f of filters) {
    assert.ok(f.startsWith('~'), `SystemCallFilter=${f}: a deny-list (an allow-list cannot know what servers call)`);
    // chroot() is in @mount, setuid() in @privileged, setrlimit() and nice in @resources.
    for (const g of ['@mount', '@privileged', '@resources', '@system-service', '@basic-io', '@process'])
      assert.ok(!f.split(/\s+/).includes(g), `SystemCallFilter denies ${g}`);
  }
  if (filters.length > 0)
    assert.deepEqual(unitValues(unit, 'SystemCallErrorNumber'), ['EPERM'], 'a refused call fails with EPERM instead of killing the server');
  assert.deepEqual(unitValues(unit, 'NotifyAccess'), ['main'], 'servers share the cgroup: only tsinetd may notify');

  if (!have('systemd-analyze')) {
    t.skip('systemd-analyze is not installed: the exposure was not scored');
    return;
  }
  const dir = tempDir(t, 'examples');
  const copy = join(dir, 'tsinetd.service');
  writeFileSync(copy, unit);
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', copy], { encoding: 'utf8', timeout: 30_000 });
  const m = /Overall exposure level for tsinetd\.service: (\d+\.\d+)/.exec(r.stdout);
  if (m === null) {
    t.skip(`systemd-analyze security --offline=true does not run here (systemd ≥ 250 needed): ${r.stderr.trim()}`);
    return;
  }
  assert.equal(r.status, 0, r.stderr);
  const exposure = Number(m[1]);
  t.diagnostic(`exposure ${exposure} (at most ${EXPOSURE_MAX})`);
  assert.ok(exposure <= EXPOSURE_MAX, `exposure ${exposure} > ${EXPOSURE_MAX}:\n${r.stdout}`);
  // The same unit without its hardening scores worse: the score measures what the unit sets.
  const bare = unit.replace(/^(CapabilityBoundingSet|SystemCallFilter|SystemCallErrorNumber|ProtectControlGroups|LockPersonality|RestrictRealtime)=.*\n/gm, '');
  writeFileSync(copy, bare);
  const b = /Overall exposure level for tsinetd\.service: (\d+\.\d+)/.exec(
    spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', copy], { encoding: 'utf8', timeout: 30_000 }).stdout,
  );
  assert.ok(b !== null && Number(b[1]) > exposure, `without its hardening: ${b?.[1]}`);
});

/** Capability names by number (linux/capability.h). */
const CAP_NAMES = [
  'chown',
  'dac_override',
  'dac_read_search',
  'fowner',
  'fsetid',
  'kill',
  'setgid',
  'setuid',
  'setpcap',
  'linux_immutable',
  'net_bind_service',
  'net_broadcast',
  'net_admin',
  'net_raw',
  'ipc_lock',
  'ipc_owner',
  'sys_module',
  'sys_rawio',
  'sys_chroot',
  'sys_ptrace',
  'sys_pacct',
  'sys_admin',
  'sys_boot',
  'sys_nice',
  'sys_resource',
  'sys_time',
  'sys_tty_config',
  'mknod',
  'lease',
  'audit_write',
  'audit_control',
  'setfcap',
  'mac_override',
  'mac_admin',
  'syslog',
  'wake_alarm',
  'block_suspend',
  'audit_read',
  'perfmon',
  'bpf',
  'checkpoint_restore',
];

/** The bounding set of process `pid`, by name. */
function processBoundingSet(pid: number): Set<string> {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  const mask = BigInt(`0x${hex}`);
  return new Set(CAP_NAMES.filter((_n, i) => (mask >> BigInt(i)) & 1n));
}

const noCapsRun = !isRoot
  ? 'needs root: the servers chroot and switch user'
  : !have('setpriv') || !existsSync(TFTPD) || !existsSync(TFTP) || !have('rsync')
    ? 'setpriv (util-linux), in.tftpd and tftp (tftpd-hpa, tftp-hpa) and rsync are needed'
    : false;

test(
  'tsinetd.service: under its capability bounding set, in.tftpd (chroot, then nobody) and a root rsync daemon (chroot, owners and set-uid bits kept) still serve',
  { skip: noCapsRun, timeout: 60_000 },
  async (t) => {
    const unit = readFileSync(join(EXAMPLES, 'tsinetd.service'), 'utf8');
    const caps = boundingSet(unit);
    const known = CAP_NAMES.slice(0, Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')) + 1);
    const wrap = ['setpriv', '--bounding-set', ['-all', ...[...caps].filter((c) => known.includes(c)).map((c) => `+${c}`)].join(',')];
    t.diagnostic(wrap.join(' '));

    // in.tftpd as xinetd runs it: root, chroot to its directory (-s), then nobody. Its directory
    // and file must be readable by all.
    const root = tempDir(t, 'tftproot');
    chmodSync(root, 0o755);
    const content = `tftp under the unit's bounding set ${process.pid}\n`.repeat(30);
    writeFileSync(join(root, 'hello.txt'), content, { mode: 0o644 });
    // rsync's daemon as root receiving files of another owner with a set-uid bit, in a chroot.
    const dir = tempDir(t, 'caps-rsync');
    const src = join(dir, 'src');
    const dest = join(dir, 'dest');
    mkdirSync(src);
    mkdirSync(dest, { mode: 0o755 });
    writeFileSync(join(src, 'tool'), '#!/bin/sh\n');
    chownSync(join(src, 'tool'), 65534, 65534);
    chmodSync(join(src, 'tool'), 0o4755);
    const conf = join(dir, 'rsyncd.conf');
    writeFileSync(conf, `use chroot = yes\nuid = root\ngid = root\nnumeric ids = yes\n[mod]\n\tpath = ${dest}\n\tread only = no\n`);

    const [tftpPort, rsyncPort] = [await freePort(), await freePort()];
    const d = await startDaemon(t, {
      services: [
        tftpdService(tftpPort, root),
        programService('rsync', rsyncPort, '/usr/bin/rsync', { user: 'root', server_args: `--daemon --config=${conf}` }),
      ],
      wrap,
    });
    // The daemon runs with the unit's set (its servers inherit it), less what this machine's own
    // bounding set lacks (a container may lack CAP_SYS_RESOURCE: a bounding set only shrinks).
    const ours = processBoundingSet(process.pid);
    assert.deepEqual([...processBoundingSet(d.pid)].sort(), [...caps].filter((c) => ours.has(c)).sort());

    const got = join(tempDir(t, 'tftpget'), 'got.txt');
    const tftp = spawnSync(TFTP, ['-m', 'binary', '127.0.0.1', String(tftpPort), '-c', 'get', 'hello.txt', got], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(tftp.status, 0, tftp.stderr);
    assert.equal(readFileSync(got, 'utf8'), content);

    const rsync = spawnSync('rsync', ['-a', '--numeric-ids', `${src}/`, `rsync://127.0.0.1:${rsyncPort}/mod/`], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(rsync.status, 0, rsync.stderr);
    const st = statSync(join(dest, 'tool'));
    assert.deepEqual([st.uid, st.gid, (st.mode & 0o7777).toString(8)], [65534, 65534, '4755']);
    await d.waitForServiceLog(/EXIT: rsync status=0 /);
    await d.waitForServiceLog(/START: tftp pid=\d+ from=127\.0\.0\.1$/);
  },
);

// ---- fail2ban -----------------------------------------------------------------------------

const F2B_CONF = '/etc/fail2ban';
const noFail2ban =
  !have('fail2ban-client') || !have('fail2ban-regex') || !existsSync(join(F2B_CONF, 'filter.d', 'xinetd-fail.conf'))
    ? 'fail2ban (with its stock xinetd-fail filter) is not installed'
    : false;

test('fail2ban/jail.local: fail2ban loads it, and its tsinetd-file jail finds the refused addresses in a real FILE log', { skip: noFail2ban }, async (t) => {
  const dir = tempDir(t, 'examples');
  const port = await freePort();
  const d = await startDaemon(t, { services: [internalService('echo', port, 'stream', { only_from: '127.0.0.1' })] });
  for (let i = 0; i < 3; i++) await tcpRequest({ port, localAddress: '127.0.0.2', send: 'x' });
  assert.equal((await tcpRequest({ port, send: 'ok' })).data.toString(), 'ok');
  await waitFor(
    () =>
      d
        .serviceLog()
        .split('\n')
        .filter((l) => l.includes('FAIL: ')).length === 3
        ? true
        : undefined,
    5000,
    '3 FAIL lines',
  );
  // The FILE log of tsinetd, as the jail's logpath would name it.
  assert.match(d.serviceLog(), /^\d{2}\/\d{1,2}\/\d{1,2}@\d{2}:\d{2}:\d{2}: FAIL: echo-stream address from=(::ffff:)?127\.0\.0\.2$/m);

  // The stock configuration plus our jail, with its logpath pointed at that log.
  const conf = join(dir, 'fail2ban');
  cpSync(F2B_CONF, conf, { recursive: true });
  const jailText = readFileSync(join(EXAMPLES, 'fail2ban', 'jail.local'), 'utf8');
  assert.match(jailText, /^logpath\s+= \/var\/log\/tsinetd\/services\.log$/m);
  const jail = jailText.replace(/^(logpath\s+= )\/var\/log\/tsinetd\/services\.log$/m, (_m, head: string) => head + d.serviceLogPath);
  writeFileSync(join(conf, 'jail.d', 'tsinetd.local'), jail);
  const dump = spawnSync('fail2ban-client', ['-c', conf, '-d'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(dump.status, 0, dump.stderr);
  const datepattern = /\['set', 'tsinetd-file', 'datepattern', '([^']+)'\]/.exec(dump.stdout)?.[1];
  assert.equal(datepattern, '^%y/%m/%d@%H:%M:%S');
  assert.match(dump.stdout, new RegExp(`\\['set', 'tsinetd-file', 'addlogpath', '${d.serviceLogPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}', 'head'\\]`));
  assert.match(dump.stdout, /\['start', 'xinetd-fail'\]/);

  // What that jail matches in the log: the refused address, three times, each with its time.
  const r = spawnSync('fail2ban-regex', ['-o', 'row', '-d', datepattern, d.serviceLogPath, join(conf, 'filter.d', 'xinetd-fail.conf')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('['));
  assert.equal(rows.length, 3, r.stdout);
  const now = Date.now() / 1000;
  for (const row of rows) {
    const m = /^\['((?:::ffff:)?127\.0\.0\.2)',\s+([\d.]+),/.exec(row);
    assert.ok(m !== null, row);
    // The time fail2ban read is the line's own (it would ignore lines without one).
    assert.ok(Math.abs(Number(m[2]) - now) < 120, `time of ${row}`);
  }
});
