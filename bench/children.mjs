#!/usr/bin/env node
// children.mjs - `npm run bench:children` (also part of `npm run bench`): many long-lived children
// under one service, side by side with real xinetd in one run (issue #16).
//
// Each daemon gets the same configuration: one program service on 127.0.0.1 (CHILDREN_PORT,
// default 11900), `server = /bin/cat`, no instance, per-source or rate limit, EXIT logged to a
// file. This process opens CHILDREN_N connections (default 5000), in batches, and keeps them
// open: each is served by its own cat, which lives until its client closes. Measured, per round
// (CHILDREN_ROUNDS, default 2; the server order alternates):
// - the time until every child runs (from the first connect; a connection counts once a byte it
//   sent came back from its cat, and one lost in the burst is made again, and counted);
// - while they all run: the daemon's RSS (daemon + helper) and its CPU over CHILDREN_IDLE_S
//   seconds (default 5) of nothing happening;
// - the reaping storm: every client closes at once, so every cat exits at once; the time until
//   the last EXIT line is in the log, and whether all CHILDREN_N are there.
// Reported: medians and ratios to xinetd. Progress on stderr; the report on stdout and in
// bench/results/children-STAMP.md and .json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { childrenOf, commOf, cpuSeconds, loadAverage, rssKiB } from './proc.mjs';
import { fmtFigure, median, ratioText } from './report.mjs';
import { catConnection, findTsinetd, findXinetd, stopDaemon, until as untilTrue } from './tools.mjs';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const repoDir = join(benchDir, '..');
const N = Number(process.env.CHILDREN_N ?? 5000);
const ROUNDS = Number(process.env.CHILDREN_ROUNDS ?? 2);
const PORT = Number(process.env.CHILDREN_PORT ?? 11900);
const IDLE_S = Number(process.env.CHILDREN_IDLE_S ?? 5);
const BATCH = 100;
const LIMIT_MS = 180_000;

function log(message) {
  process.stderr.write(`${message}\n`);
}

function config(logFile) {
  return (
    `defaults\n{\n  log_type = FILE ${logFile}\n  log_on_success = PID EXIT\n  log_on_failure = HOST\n  instances = UNLIMITED\n` +
    `  per_source = UNLIMITED\n  cps = 1000000 1\n}\n` +
    `service kids\n{\n  type = UNLISTED\n  socket_type = stream\n  protocol = tcp\n  wait = no\n  user = root\n` +
    `  server = /bin/cat\n  port = ${PORT}\n  bind = 127.0.0.1\n}\n`
  );
}

const until = (check, what, limitMs = LIMIT_MS, everyMs = 20) => untilTrue(check, what, limitMs, everyMs);

function countIn(file, re) {
  if (!existsSync(file)) return 0;
  return (readFileSync(file, 'latin1').match(re) ?? []).length;
}

/** The cat processes among the descendants of `pid` (the daemon's, or its helper's, children). */
function catsUnder(pid) {
  let count = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    for (const c of childrenOf(p)) {
      const comm = commOf(c);
      if (comm === 'cat') count++;
      else if (comm !== null) stack.push(c);
    }
  }
  return count;
}

/**
 * A served connection, trying again when one is lost: a burst beyond the listen backlog can
 * lose a connection in the kernel (its final ACK dropped while the accept queue is full) with
 * the client none the wiser until it sends; the byte each sends finds that out.
 */
async function connectServed(lost) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const s = await catConnection(PORT);
    if (s !== null) return s;
    lost.count++;
  }
  throw new Error('a connection was lost 20 times in a row');
}

async function runDaemon(server, argv, dir) {
  const logFile = join(dir, 'service.log');
  const conf = join(dir, 'xinetd.conf');
  writeFileSync(conf, config(logFile));
  const child = spawn(argv[0], [...argv.slice(1), '-dontfork', '-f', conf, '-filelog', join(dir, 'daemon.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const sockets = [];
  try {
    const lost = { count: 0 };
    for (let i = 0; ; i++) {
      const s = await catConnection(PORT);
      if (s !== null) {
        sockets.push(s);
        break;
      }
      if (child.exitCode !== null) throw new Error(`${server} exited: ${stderr}`);
      if (i > 500) throw new Error(`${server}: port ${PORT} never answered`);
      await sleep(20);
    }
    const t0 = performance.now();
    while (sockets.length < N) {
      const batch = Array.from({ length: Math.min(BATCH, N - sockets.length) }, () => connectServed(lost));
      sockets.push(...(await Promise.all(batch)));
    }
    await until(() => catsUnder(child.pid) >= N, `${server}: ${N} children`).catch((err) => {
      throw new Error(`${err.message} (${catsUnder(child.pid)} running; daemon log: ${readFileSync(join(dir, 'daemon.log'), 'latin1').slice(-600)})`);
    });
    const allRunningMs = performance.now() - t0;
    await sleep(1000);
    // The daemon and its helper (tsinetd-spawnd); the cats are not the daemon.
    const daemonPids = [child.pid, ...childrenOf(child.pid).filter((p) => commOf(p) !== 'cat')];
    const cpu0 = daemonPids.map(cpuSeconds).reduce((a, b) => a + (b ?? 0), 0);
    await sleep(IDLE_S * 1000);
    const cpu1 = daemonPids.map(cpuSeconds).reduce((a, b) => a + (b ?? 0), 0);
    const rss = daemonPids.map(rssKiB).reduce((a, b) => a + (b ?? 0), 0);
    const before = countIn(logFile, /EXIT: kids /g);
    for (const s of sockets) s.destroy();
    let reapMs = null;
    try {
      reapMs = await until(() => countIn(logFile, /EXIT: kids /g) - before >= N, `${server}: ${N} EXIT lines`, 60_000, 10);
    } catch {
      // reported as incomplete below
    }
    const logged = countIn(logFile, /EXIT: kids /g) - before;
    const started = countIn(logFile, /START: kids /g);
    return { allRunningMs, rssKiB: rss, idleCpuMs: (cpu1 - cpu0) * 1000, reapMs, logged, started, lostConnects: lost.count };
  } finally {
    for (const s of sockets) s.destroy();
    await stopDaemon(child, exited);
  }
}

async function main() {
  // This process holds every client socket, the daemons none once the children run.
  const r = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${N + 1024}:${N + 1024}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prlimit: cannot raise this process's descriptor limit to ${N + 1024}: ${r.stderr}`);
  const ts = findTsinetd(repoDir);
  if (ts.error) throw new Error(ts.error);
  const xi = findXinetd(benchDir, log);
  const servers = [['tsinetd', ts.argv]];
  if (xi.error) log(`children: ${xi.error}; tsinetd alone`);
  else servers.push(['xinetd', [xi.path]]);
  const results = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const [server, argv] of order) {
      const dir = mkdtempSync(join(os.tmpdir(), `tsinetd-children-${server}-`));
      try {
        log(`children: ${server}, ${N} children, round ${round + 1}/${ROUNDS} (load ${loadAverage()})`);
        const res = await runDaemon(server, argv, dir);
        log(`children: ${server}: ${JSON.stringify(res)}`);
        results.push({ server, round, ...res });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const med = (server, key) => {
    const v = results.filter((x) => x.server === server && x[key] !== null && x[key] !== undefined).map((x) => x[key]);
    return v.length === 0 ? null : median(v);
  };
  const keys = [
    ['allRunningMs', `first connect to all ${N} children running`, 'ms'],
    ['rssKiB', `RSS while ${N} children run (daemon + helper)`, 'KiB'],
    ['idleCpuMs', `daemon + helper CPU over ${IDLE_S} s while they run`, 'ms'],
    ['reapMs', `all ${N} exit at once → last EXIT line logged`, 'ms'],
    ['logged', 'EXIT lines logged (of the storm)', ''],
    ['lostConnects', 'connections lost in the burst and made again', ''],
  ];
  const lines = [
    `# Children: ${N} long-lived children under one service, tsinetd and xinetd side by side`,
    '',
    `${new Date().toISOString()}, ${os.cpus().length} CPUs, load ${loadAverage()}, medians of ${ROUNDS} rounds, server order alternating`,
    '',
    '| | tsinetd | xinetd | ratio |',
    '|---|---|---|---|',
  ];
  for (const [key, label, unit] of keys) {
    const t = med('tsinetd', key);
    const x = med('xinetd', key);
    lines.push(`| ${label} | ${fmtFigure(t, unit)} | ${fmtFigure(x, unit)} | ${ratioText(t, x)} |`);
  }
  const incomplete = results.filter((x) => x.logged < N);
  if (incomplete.length > 0)
    lines.push(
      '',
      `Incomplete storms (fewer than ${N} EXIT lines within 60 s): ${incomplete.map((x) => `${x.server} round ${x.round + 1}: ${x.logged}`).join(', ')}`,
    );
  const report = lines.join('\n') + '\n';
  process.stdout.write(report);
  const out = join(benchDir, 'results');
  mkdirSync(out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(out, `children-${stamp}.md`), report);
  writeFileSync(join(out, `children-${stamp}.json`), JSON.stringify({ n: N, rounds: ROUNDS, idleSeconds: IDLE_S, results }, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`children: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
