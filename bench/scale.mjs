#!/usr/bin/env node
// scale.mjs - `npm run bench:scale` (also the last part of `npm run bench`): how tsinetd's costs
// grow with the number of services, side by side with real xinetd in one run (issue #16).
//
// For each size (SCALE_SIZES, default 100 1000 10000) and round (SCALE_ROUNDS, default 3; the
// server order alternates every round), each daemon gets the same generated configuration: N
// program services, one TCP port each on 127.0.0.1 (ports from SCALE_BASE_PORT, default 12000,
// below the ephemeral range), `server = /bin/cat`, `only_from = 127.0.0.1`. Measured:
// - start: exec to every port listening (read from /proc/net/tcp), and exec to the last and the
//   first service each answering a client (a listening port is not yet a served one: tsinetd's
//   helper accepts only once the daemon has handed it the socket);
// - idle RSS, once every port listens and a second has passed (daemon + its helper);
// - SIGHUP with nothing changed, and with 1 % of the services changed: signal to the log line
//   that ends the reload ("Reconfigured");
// - tsinetd's `--check` of the same file: wall time and peak RSS (xinetd has no check mode).
// Reported: medians per size, ratios to xinetd, and the slope per service between the two
// largest sizes (µs and KiB per service). Progress on stderr; the report on stdout and in
// bench/results/scale-STAMP.md and .json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { childrenOf, loadAverage, rssKiB } from './proc.mjs';
import { fmtFigure, median, ratioText } from './report.mjs';
import { catConnection, findTsinetd, findXinetd, stopDaemon, until as untilTrue } from './tools.mjs';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const repoDir = join(benchDir, '..');
const LIMIT_MS = 120_000;

function log(message) {
  process.stderr.write(`${message}\n`);
}

function listKnob(name, fallback) {
  const raw = (process.env[name] ?? '').trim();
  return raw === '' ? fallback : raw.split(/[\s,]+/).map(Number);
}

const SIZES = listKnob('SCALE_SIZES', [100, 1000, 10000]);
const ROUNDS = Number(process.env.SCALE_ROUNDS ?? 3);
const BASE_PORT = Number(process.env.SCALE_BASE_PORT ?? 12000);

/** The configuration: N program services; `changed` of them differ (server_args) from the base. */
function config(n, changed = 0) {
  const parts = ['defaults\n{\n  log_type = FILE /dev/null\n}\n'];
  for (let i = 0; i < n; i++) {
    const args = i < changed ? '\n  server_args = -u' : '';
    parts.push(
      `service s${i}\n{\n  type = UNLISTED\n  socket_type = stream\n  protocol = tcp\n  wait = no\n  user = root\n` +
        `  server = /bin/cat${args}\n  port = ${BASE_PORT + i}\n  bind = 127.0.0.1\n  only_from = 127.0.0.1\n}\n`,
    );
  }
  return parts.join('');
}

/** TCP ports listening on 127.0.0.1 within [lo, hi). */
function listeningIn(lo, hi) {
  let count = 0;
  const text = readFileSync('/proc/net/tcp', 'latin1');
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[3] !== '0A') continue;
    const [addr, portHex] = (f[1] ?? '').split(':');
    if (addr !== '0100007F') continue;
    const port = parseInt(portHex, 16);
    if (port >= lo && port < hi) count++;
  }
  return count;
}

const until = (check, what, limitMs = LIMIT_MS, everyMs = 10) => untilTrue(check, what, limitMs, everyMs);

/** Resolves once a client of `port` got its byte echoed back by /bin/cat (tries again after a failure). */
async function answers(port, limitMs = LIMIT_MS) {
  const deadline = performance.now() + limitMs;
  for (;;) {
    const s = await catConnection(port, limitMs);
    if (s !== null) return s.destroy();
    if (performance.now() > deadline) throw new Error(`no answer on port ${port}`);
    await sleep(10);
  }
}

function reconfigured(logFile) {
  if (!existsSync(logFile)) return 0;
  return (readFileSync(logFile, 'latin1').match(/Reconfigured/g) ?? []).length;
}

/** One daemon on one size: start, idle RSS, the two reloads, stop. */
async function runDaemon(server, argv, n, dir) {
  const conf = join(dir, 'xinetd.conf');
  const logFile = join(dir, 'daemon.log');
  writeFileSync(conf, config(n));
  rmSync(logFile, { force: true });
  const t0 = performance.now();
  const child = spawn(argv[0], [...argv.slice(1), '-dontfork', '-f', conf, '-filelog', logFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await until(() => listeningIn(BASE_PORT, BASE_PORT + n) >= n || child.exitCode !== null, `${server}: ${n} ports`);
    if (child.exitCode !== null) throw new Error(`${server} exited: ${stderr}`);
    const startMs = performance.now() - t0;
    await answers(BASE_PORT + n - 1);
    await answers(BASE_PORT);
    const servedMs = performance.now() - t0;
    await sleep(1000);
    const pids = [child.pid, ...childrenOf(child.pid)];
    const rss = pids.map(rssKiB).reduce((a, b) => a + (b ?? 0), 0);
    const reload = async (changed) => {
      writeFileSync(conf, config(n, changed));
      const before = reconfigured(logFile);
      const r0 = performance.now();
      process.kill(child.pid, 'SIGHUP');
      await until(() => reconfigured(logFile) > before, `${server}: reload`, LIMIT_MS, 5);
      const ms = performance.now() - r0;
      await until(() => listeningIn(BASE_PORT, BASE_PORT + n) >= n, `${server}: ports after the reload`);
      return ms;
    };
    const hupSameMs = await reload(0);
    const hupOnePctMs = await reload(Math.max(1, Math.round(n / 100)));
    return { startMs, servedMs, rssKiB: rss, hupSameMs, hupOnePctMs };
  } finally {
    await stopDaemon(child, exited);
  }
}

/** tsinetd --check of the same file: wall time and peak RSS (GNU time's %M), when /usr/bin/time exists. */
function runCheck(argv, n, dir) {
  const conf = join(dir, 'check.conf');
  writeFileSync(conf, config(n));
  const time = existsSync('/usr/bin/time') ? ['/usr/bin/time', '-f', '%M'] : [];
  const t0 = performance.now();
  const r = spawnSync(time[0] ?? argv[0], [...time.slice(1), ...argv, '--check', '-f', conf], { encoding: 'utf8', timeout: LIMIT_MS });
  const ms = performance.now() - t0;
  const peak = time.length > 0 ? Number(/(\d+)\s*$/.exec(r.stderr)?.[1] ?? NaN) : null;
  return { checkMs: ms, checkPeakKiB: peak };
}

async function main() {
  const ts = findTsinetd(repoDir);
  if (ts.error) throw new Error(ts.error);
  const xi = findXinetd(benchDir, log);
  const servers = [['tsinetd', ts.argv]];
  if (xi.error) log(`scale: ${xi.error}; tsinetd alone`);
  else servers.push(['xinetd', [xi.path]]);
  const results = []; // {server, n, round, ...}
  for (const n of SIZES) {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const [server, argv] of order) {
        const dir = mkdtempSync(join(os.tmpdir(), `tsinetd-scale-${server}-`));
        try {
          log(`scale: ${server}, ${n} services, round ${round + 1}/${ROUNDS} (load ${loadAverage()})`);
          const r = await runDaemon(server, argv, n, dir);
          const c = server === 'tsinetd' ? runCheck(argv, n, dir) : {};
          results.push({ server, n, round, ...r, ...c });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
  }
  const med = (server, n, key) => {
    const v = results.filter((r) => r.server === server && r.n === n && r[key] !== undefined && r[key] !== null).map((r) => r[key]);
    return v.length === 0 ? null : median(v);
  };
  const keys = [
    ['startMs', 'start to all ports listening', 'ms'],
    ['servedMs', 'start to the last and first service answering', 'ms'],
    ['rssKiB', 'RSS once idle (daemon + helper)', 'KiB'],
    ['hupSameMs', 'SIGHUP, nothing changed', 'ms'],
    ['hupOnePctMs', 'SIGHUP, 1 % changed', 'ms'],
    ['checkMs', '--check (tsinetd)', 'ms'],
    ['checkPeakKiB', '--check peak RSS (tsinetd)', 'KiB'],
  ];
  const lines = [
    `# Scale: tsinetd and xinetd side by side`,
    '',
    `${new Date().toISOString()}, ${os.cpus().length} CPUs, load ${loadAverage()}, medians of ${ROUNDS} rounds, server order alternating`,
    '',
  ];
  for (const n of SIZES) {
    lines.push(`## ${n} services`, '', '| | tsinetd | xinetd | ratio |', '|---|---|---|---|');
    for (const [key, label, unit] of keys) {
      const t = med('tsinetd', n, key);
      const x = med('xinetd', n, key);
      lines.push(`| ${label} | ${fmtFigure(t, unit)} | ${fmtFigure(x, unit)} | ${ratioText(t, x)} |`);
    }
    lines.push('');
  }
  if (SIZES.length >= 2) {
    const [a, b] = [...SIZES].sort((p, q) => p - q).slice(-2);
    lines.push(`## Per service, between ${a} and ${b} services`, '', '| | tsinetd | xinetd |', '|---|---|---|');
    for (const [key, label, unit] of keys) {
      const slope = (server) => {
        const lo = med(server, a, key);
        const hi = med(server, b, key);
        if (lo === null || hi === null) return '–';
        const per = (hi - lo) / (b - a);
        return unit === 'ms' ? `${(per * 1000).toFixed(1)} µs` : `${per.toFixed(2)} KiB`;
      };
      lines.push(`| ${label} | ${slope('tsinetd')} | ${slope('xinetd')} |`);
    }
    lines.push('');
  }
  const report = lines.join('\n');
  process.stdout.write(`${report}\n`);
  const out = join(benchDir, 'results');
  mkdirSync(out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(out, `scale-${stamp}.md`), `${report}\n`);
  writeFileSync(join(out, `scale-${stamp}.json`), `${JSON.stringify({ sizes: SIZES, rounds: ROUNDS, results }, null, 2)}\n`);
}

main().catch((err) => {
  log(`scale: ${err.message}`);
  process.exitCode = 1;
});
