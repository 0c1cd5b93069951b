// The package as users install it: the npm tarball (scripts/tarball.mjs), installed globally
// into a scratch prefix by the real npm, run by a PATH that holds node and npm and no C
// compiler, as in a lean container. The installed command must run with the native spawner
// from the helper it ships, whether npm's script policy is the default or --ignore-scripts;
// without a shipped helper it says once what is lost and runs with the Node spawner, and with
// a compiler it builds the helper at start. The shipped helpers are static: they start in an
// empty root directory, and the arm64 one answers under qemu when Debian's qemu-user-static is
// unpacked (.ci/run puts it in /opt/qemu-ref).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERSION as HELPER_PROTOCOL_VERSION } from '../../../src/spawn/native/spawnd-protocol.js';
import { VERSION } from '../../../src/app/version.js';
import { have, ROOT, TEST_USER } from '../../helpers/daemon.js';
import { freePort, tcpRequest, waitFor } from '../../helpers/net.js';

const NPM = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
const SKIP =
  process.platform !== 'linux' || process.arch !== 'x64'
    ? 'the release tarball is made on linux-x64'
    : !have('musl-gcc')
      ? 'musl-gcc (Debian: musl-tools) is not installed: the release tarball, which ships a static helper, cannot be made'
      : NPM === ''
        ? 'npm is not on PATH'
        : false;
const AS_ROOT = process.getuid?.() === 0;
const QEMU = ['/opt/qemu-ref/usr/bin/qemu-aarch64-static', '/usr/bin/qemu-aarch64-static'].find((p) => existsSync(p)) ?? null;

/** What may be in the tarball: the command, its licences, man pages, the helper's sources and binaries, examples. */
const ALLOWED = [
  /^package\/package\.json$/,
  /^package\/(README\.md|LICENSE|SECURITY\.md)$/,
  /^package\/build\/bin\/(tsinetd\.mjs|THIRD-PARTY-NOTICES\.txt)$/,
  /^package\/man\/tsinetd(\.8|\.conf\.5|\.log\.5)$/,
  /^package\/native\/[a-z]+\.[ch]$/,
  /^package\/native\/prebuilt\/linux-(x64|arm64)\/tsinetd-spawnd$/,
  /^package\/examples\/(tsinetd\.service|fail2ban\/[\w.]+|logrotate\/[\w.-]+)$/,
];

let work = '';
let tarball = '';
/** A directory with node and npm only: no compiler, no shell tools. */
let bare = '';

function envWith(path: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: path, HOME: join(work, 'home'), npm_config_cache: join(work, 'npm-cache'), npm_config_update_notifier: 'false', ...extra };
}

/** `npm install -g` of the tarball into a new prefix; returns the prefix and npm's output. */
function installGlobally(name: string, extraArgs: string[] = []): { prefix: string; output: string } {
  const prefix = join(work, name);
  const r = spawnSync(NPM, ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', ...extraArgs, tarball], {
    encoding: 'utf8',
    env: envWith(bare),
    cwd: work,
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `npm install -g failed:\n${r.stdout}\n${r.stderr}`);
  return { prefix, output: `${r.stdout}${r.stderr}` };
}

interface Served {
  log: string;
  reply: string;
}

/** Runs the installed command on one echo service (/bin/cat), makes one connection, stops it. */
async function serveOnce(t: TestContext, prefix: string, path: string, extra: NodeJS.ProcessEnv = {}): Promise<Served> {
  const dir = mkdtempSync(join(work, 'run-'));
  const port = await freePort();
  const conf = join(dir, 'xinetd.conf');
  const log = join(dir, 'daemon.log');
  writeFileSync(
    conf,
    `service echo-pkg\n{\n  type = UNLISTED\n  socket_type = stream\n  protocol = tcp\n  wait = no\n  user = ${TEST_USER}\n  port = ${port}\n  bind = 127.0.0.1\n  server = /bin/cat\n}\n`,
  );
  const child: ChildProcess = spawn(join(prefix, 'bin', 'tsinetd'), ['-dontfork', '-f', conf, '-filelog', log], {
    env: envWith(path, extra),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const text = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
  await waitFor(
    () => (/Started working/.test(text()) ? true : child.exitCode !== null ? true : undefined),
    20_000,
    `the installed tsinetd to start (stderr: ${stderr})`,
  );
  const reply = child.exitCode === null ? (await tcpRequest({ port, send: 'hello package\n', timeoutMs: 5000 })).data.toString() : '';
  child.kill('SIGTERM');
  await exited;
  const logged = text();
  assert.equal(reply, 'hello package\n', `no echo; the daemon's log:\n${logged}\nstderr: ${stderr}`);
  return { log: logged, reply };
}

function versionOf(prefix: string, path: string): string {
  const r = spawnSync(join(prefix, 'bin', 'tsinetd'), ['-version'], { encoding: 'utf8', env: envWith(path), timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function count(text: string, re: RegExp): number {
  return text.split('\n').filter((l) => re.test(l)).length;
}

describe('the npm tarball, installed as users install it', { skip: SKIP }, () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'tsinetd-package-'));
    mkdirSync(join(work, 'home'));
    bare = join(work, 'bare-bin');
    mkdirSync(bare);
    symlinkSync(process.execPath, join(bare, 'node'));
    symlinkSync(NPM, join(bare, 'npm'));
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'tarball.mjs'), '--no-build', work], { encoding: 'utf8', cwd: ROOT, timeout: 300_000 });
    assert.equal(r.status, 0, `scripts/tarball.mjs failed:\n${r.stdout}\n${r.stderr}`);
    tarball = join(work, `tsinetd-${VERSION}.tgz`);
    assert.ok(existsSync(tarball), tarball);
  });
  after(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  test('holds what an installed command needs and nothing else; its manifest has no scripts and no dependencies', (t) => {
    const list = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).stdout.trim().split('\n');
    const strays = list.filter((e) => !ALLOWED.some((re) => re.test(e)));
    assert.deepEqual(strays, [], 'files that an installed tsinetd does not need');
    for (const must of [
      'package/build/bin/tsinetd.mjs',
      'package/native/prebuilt/linux-x64/tsinetd-spawnd',
      'package/native/spawnd.c',
      'package/man/tsinetd.conf.5',
      'package/LICENSE',
    ]) {
      assert.ok(list.includes(must), `${must} is missing`);
    }
    const manifest = JSON.parse(spawnSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }).stdout) as Record<string, unknown>;
    assert.equal(manifest['scripts'], undefined);
    assert.equal(manifest['dependencies'], undefined);
    assert.equal(manifest['devDependencies'], undefined);
    assert.equal(manifest['private'], undefined);
    t.diagnostic(`tarball: ${statSync(tarball).size} bytes, ${list.length} files`);
  });

  for (const [label, args] of [
    ["npm's default script policy", []],
    ['--ignore-scripts', ['--ignore-scripts']],
  ] as const) {
    test(`npm install -g with ${label}, no C compiler: no install script, the shipped helper runs, man pages work`, async (t) => {
      const { prefix, output } = installGlobally(`prefix-${args.length}`, [...args]);
      assert.doesNotMatch(output, /install.scripts|allow-scripts|prepare/i, output);
      const version = versionOf(prefix, bare);
      const shipped = join(prefix, 'lib', 'node_modules', 'tsinetd', 'native', 'prebuilt', 'linux-x64', 'tsinetd-spawnd');
      assert.ok(version.includes(`spawner: native, helper ${shipped} (prebuilt; protocol ${HELPER_PROTOCOL_VERSION}; linux-x64 static musl-gcc`), version);
      const served = await serveOnce(t, prefix, bare);
      assert.equal(served.reply, 'hello package\n');
      assert.equal(count(served.log, /NOTICE: tsinetd \S+ started with the native spawner \[started\]$/), 1, served.log);
      assert.equal(count(served.log, /spawn helper/), 0, served.log);
      if (have('man')) {
        for (const [page, section] of [
          ['tsinetd', '8'],
          ['tsinetd.conf', '5'],
          ['tsinetd.log', '5'],
        ] as const) {
          const env = { PATH: process.env['PATH'] ?? '', MANPATH: join(prefix, 'share', 'man'), MANWIDTH: '80' };
          const r = spawnSync('man', ['-w', page], { encoding: 'utf8', env });
          assert.equal(r.status, 0, `man -w ${page}: ${r.stderr}`);
          assert.equal(r.stdout.trim(), realpathSync(join(prefix, 'share', 'man', `man${section}`, `${page}.${section}`)));
          const shown = spawnSync('man', ['-P', 'cat', page], { encoding: 'utf8', env });
          assert.match(shown.stdout, /^NAME\n\s+tsinetd/m, `man ${page}: ${shown.stderr}`);
        }
      } else {
        t.diagnostic('man is not installed: the man pages were not looked up');
      }
    });
  }

  test('the shipped helpers are static: the x64 one starts in an empty root directory, the arm64 one answers under qemu', async (t) => {
    const x64 = join(ROOT, 'native', 'prebuilt', 'linux-x64', 'tsinetd-spawnd');
    if (have('file')) assert.match(spawnSync('file', ['-b', x64], { encoding: 'utf8' }).stdout, /statically linked/);
    assert.match(
      spawnSync('ldd', [x64], { encoding: 'utf8' }).stdout + spawnSync('ldd', [x64], { encoding: 'utf8' }).stderr,
      /not a dynamic executable|statically linked/,
    );
    if (AS_ROOT && have('chroot')) {
      const jail = join(work, 'jail');
      mkdirSync(jail);
      copyFileSync(x64, join(jail, 'tsinetd-spawnd'));
      chmodSync(join(jail, 'tsinetd-spawnd'), 0o755);
      const v = spawnSync('chroot', [jail, '/tsinetd-spawnd', '--version'], { encoding: 'utf8' });
      assert.equal(v.stdout, `tsinetd-spawnd protocol ${HELPER_PROTOCOL_VERSION} build linux-x64 static musl-gcc ${v.stdout.split('musl-gcc ')[1] ?? ''}`);
      assert.equal(v.status, 0, v.stderr);
      // And it starts serving: its ready message over Node's IPC channel, from inside the empty root.
      const helper = spawn('chroot', [jail, '/tsinetd-spawnd'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      t.after(() => helper.kill('SIGKILL'));
      const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
        helper.once('message', (m) => resolve(m as Record<string, unknown>));
        helper.once('exit', (code) => reject(new Error(`the helper exited (${code})`)));
      });
      assert.equal(ready['t'], 'ready');
      assert.equal(ready['version'], HELPER_PROTOCOL_VERSION);
      helper.disconnect(); // the helper ends when its channel closes
      await new Promise<void>((resolve) => (helper.exitCode !== null ? resolve() : helper.once('exit', () => resolve())));
      assert.equal(helper.exitCode, 0);
    } else {
      t.diagnostic('not root: the empty-root start was not tried');
    }
    const arm = join(ROOT, 'native', 'prebuilt', 'linux-arm64', 'tsinetd-spawnd');
    if (!existsSync(arm)) {
      t.diagnostic('no linux-arm64 helper was built (gcc-aarch64-linux-gnu is not installed)');
    } else if (QEMU === null) {
      t.diagnostic('qemu-aarch64-static is not there: the arm64 helper was not run');
    } else {
      if (have('file')) assert.match(spawnSync('file', ['-b', arm], { encoding: 'utf8' }).stdout, /ARM aarch64.*statically linked/);
      const v = spawnSync(QEMU, [arm, '--version'], { encoding: 'utf8', timeout: 30_000 });
      assert.match(v.stdout, new RegExp(`^tsinetd-spawnd protocol ${HELPER_PROTOCOL_VERSION} build linux-arm64 static aarch64-linux-gnu-gcc \\S+\\n$`));
    }
  });

  test('without a shipped helper: one NOTICE says what is lost and how to get it back, and the Node spawner serves; with a compiler the helper is built at start', async (t) => {
    const { prefix } = installGlobally('prefix-nohelper');
    const pkg = join(prefix, 'lib', 'node_modules', 'tsinetd');
    rmSync(join(pkg, 'native', 'prebuilt'), { recursive: true });
    const fallback = await serveOnce(t, prefix, bare);
    assert.equal(fallback.reply, 'hello package\n');
    assert.equal(count(fallback.log, /NOTICE: no native spawn helper for linux-x64 \(/), 1, fallback.log);
    assert.match(
      fallback.log,
      /servers are started by the Node spawner; groups = yes, the rlimit_\* attributes, .* cannot be applied, .*To get the helper back, .*install a C compiler \(musl-tools or gcc\) and restart tsinetd/,
    );
    assert.equal(count(fallback.log, /NOTICE: tsinetd \S+ started with the node spawner \[started\]$/), 1, fallback.log);
    assert.match(versionOf(prefix, bare), /^spawner: node \(no usable helper: .*native\/prebuilt\/linux-x64\/tsinetd-spawnd: missing/m);

    // A machine with a compiler: the daemon builds the helper into the package at start, once.
    const withCompiler = `${bare}:/usr/bin:/bin`;
    const built = await serveOnce(t, prefix, withCompiler);
    assert.equal(built.reply, 'hello package\n');
    assert.equal(count(built.log, /NOTICE: built the native spawn helper at .*\/native\/build\/tsinetd-spawnd \(linux-x64 /), 1, built.log);
    assert.equal(count(built.log, /started with the native spawner \[started\]$/), 1, built.log);
    const again = await serveOnce(t, prefix, bare);
    assert.equal(count(again.log, /built the native spawn helper/), 0, again.log);
    assert.equal(count(again.log, /started with the native spawner \[started\]$/), 1, again.log);

    // A helper that speaks another protocol (left from an older tsinetd) is passed over.
    const own = join(pkg, 'native', 'build', 'tsinetd-spawnd');
    writeFileSync(own, '#!/bin/sh\necho "tsinetd-spawnd protocol 3 build old"\n', { mode: 0o755 });
    chmodSync(own, 0o755);
    const cacheHome = join(work, 'cache');
    const rebuilt = await serveOnce(t, prefix, withCompiler, { XDG_CACHE_HOME: cacheHome });
    assert.equal(rebuilt.reply, 'hello package\n');
    assert.equal(count(rebuilt.log, /NOTICE: built the native spawn helper at .*\/native\/build\/tsinetd-spawnd/), 1, rebuilt.log);
    assert.match(readFileSync(own, 'latin1').slice(0, 4), /^\x7fELF/);

    // Where the package cannot be written, the helper goes to the user's cache.
    rmSync(join(pkg, 'native', 'build'), { recursive: true });
    writeFileSync(join(pkg, 'native', 'build'), 'not a directory\n');
    const cached = await serveOnce(t, prefix, withCompiler, { XDG_CACHE_HOME: cacheHome });
    assert.equal(cached.reply, 'hello package\n');
    assert.equal(
      count(cached.log, new RegExp(`NOTICE: built the native spawn helper at ${cacheHome}/tsinetd/${VERSION.replace(/\./g, '\\.')}/linux-x64/tsinetd-spawnd`)),
      1,
      cached.log,
    );
  });
});
