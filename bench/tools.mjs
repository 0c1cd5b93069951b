// tools.mjs - what the benchmark runs besides itself: its C parts (compiled with cc into
// bench/.cache/bin when missing or older than their source), real xinetd (found, or unpacked
// from Debian's package into bench/.cache/xinetd, never installed), and the tsinetd command.
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const C_PARTS = ['loadgen', 'hello', 'forklimit'];

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Compiles the C parts; returns {loadgen, hello, forklimit} paths. Throws with cc's message. */
export function buildCParts(benchDir) {
  const outDir = join(benchDir, '.cache', 'bin');
  mkdirSync(outDir, { recursive: true });
  const cc = process.env.CC || 'cc';
  const paths = {};
  for (const name of C_PARTS) {
    const src = join(benchDir, `${name}.c`);
    const out = join(outDir, name);
    paths[name] = out;
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
    const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-o', out, src], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : r.stderr.trim();
      throw new Error(`cannot build bench/${name}.c with ${cc} (set CC=...): ${why}`);
    }
  }
  return paths;
}

/** Unpacks Debian's xinetd package into cacheDir (apt-get download + dpkg -x); the binary or null. */
export function fetchXinetd(cacheDir, log) {
  if (!onPath('apt-get') || !onPath('dpkg')) {
    log('xinetd: not found, and apt-get/dpkg are missing to fetch it');
    return null;
  }
  log("xinetd: not found; unpacking Debian's package into bench/.cache/xinetd (not installed)");
  const dl = mkdtempSync(join(tmpdir(), 'tsinetd-bench-deb-'));
  try {
    execFileSync('apt-get', ['download', 'xinetd'], { cwd: dl, stdio: 'ignore', timeout: 120_000 });
    const deb = readdirSync(dl).find((n) => n.startsWith('xinetd_') && n.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download produced no xinetd_*.deb');
    mkdirSync(cacheDir, { recursive: true });
    execFileSync('dpkg', ['-x', join(dl, deb), cacheDir], { stdio: 'ignore', timeout: 60_000 });
  } catch (e) {
    log(`xinetd: fetching failed (${e.message}); set XINETD=/path/to/xinetd`);
    return null;
  } finally {
    rmSync(dl, { recursive: true, force: true });
  }
  const bin = join(cacheDir, 'usr', 'sbin', 'xinetd');
  return executable(bin) ? bin : null;
}

/**
 * Real xinetd: $XINETD, /opt/xinetd-ref, bench/.cache/xinetd, PATH; else fetched into the
 * cache unless FETCH_XINETD=0. Returns {path, version} or {error}.
 */
export function findXinetd(benchDir, log) {
  const cacheDir = join(benchDir, '.cache', 'xinetd');
  const fromEnv = process.env.XINETD;
  if (fromEnv && !executable(fromEnv)) return { error: `XINETD=${fromEnv} is not an executable file` };
  let path = fromEnv || ['/opt/xinetd-ref/usr/sbin/xinetd', join(cacheDir, 'usr', 'sbin', 'xinetd')].find(executable) || onPath('xinetd');
  if (!path && process.env.FETCH_XINETD !== '0') path = fetchXinetd(cacheDir, log);
  if (!path) return { error: 'xinetd not found (set XINETD, or allow fetching: FETCH_XINETD=1)' };
  const r = spawnSync(path, ['-version'], { encoding: 'utf8', timeout: 5000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (/error while loading shared libraries/.test(text)) {
    return { error: `${path} cannot start: ${text.trim()} (Debian's build needs libwrap0 installed)` };
  }
  const m = /\b(\d+\.\d+[\d.]*)/.exec(text); // "2.3.15.3 libwrap loadavg" on stderr
  return { path, version: m ? m[1] : 'unknown' };
}

/**
 * The tsinetd command as argv: $TSINETD (a command line, split on blanks, e.g.
 * "node /other/build/bin/tsinetd.mjs"), else this checkout's `node build/bin/tsinetd.mjs`
 * (the command package.json's `bin` installs).
 * The PID started must be the daemon itself (no npm/npx wrapper).
 */
export function findTsinetd(repoDir) {
  if (process.env.TSINETD) return { argv: process.env.TSINETD.trim().split(/\s+/) };
  const cli = join(repoDir, 'build', 'bin', 'tsinetd.mjs');
  if (!existsSync(cli)) return { error: 'build/bin/tsinetd.mjs is missing: run `npm run build` first' };
  return { argv: [process.execPath, cli] };
}

/** Polls `check` every `everyMs` until it is true: the ms it took; throws after `limitMs`. */
export async function until(check, what, limitMs, everyMs) {
  const t0 = performance.now();
  for (;;) {
    if (check()) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** SIGTERM to a daemon the bench started, SIGKILL after 10 s; resolves once `exited` has. */
export async function stopDaemon(child, exited) {
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * A connection to a `/bin/cat` service on 127.0.0.1:`port`, once a byte sent on it came back
 * (the service answered, not only its port listened); null when it failed or timed out.
 */
export function catConnection(port, timeoutMs = 30_000) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => fail(), timeoutMs);
    const fail = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(null);
    };
    s.once('connect', () => s.write('x'));
    s.once('data', () => {
      clearTimeout(timer);
      s.removeAllListeners();
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', fail);
    s.once('close', fail);
  });
}
