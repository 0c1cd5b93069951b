#!/usr/bin/env node
// run.mjs - `npm run bench`: tsinetd and real xinetd side by side, interleaved, on the same
// scenarios (see scenarios.mjs), plus a fork-per-connection baseline (forklimit.c) that shows
// the machine's limit. Rounds are the outer loop and the server order rotates every round, so a
// slow phase of a shared machine hits every server alike.
//
// Per server run: a fresh port and config, start, wait until it answers, note idle RSS, warm
// up, then one bounded loadgen run per concurrency while the daemon's (and its long-lived
// helpers') RSS is sampled and their CPU time is read before and after from /proc.
// Output: a markdown report on stdout (progress on stderr), and bench/results/STAMP.{md,json}
// and latest.md. Knobs are environment variables; see bench/README.md.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { childrenOf, commOf, cpuBetween, cpuReading, identity, loadAverage, rssKiB, threadsKept } from './proc.mjs';
import { median, renderReport } from './report.mjs';
import { scenarios, serverArgv } from './scenarios.mjs';
import { buildCParts, findTsinetd, findXinetd } from './tools.mjs';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const repoDir = join(benchDir, '..');
const SERVERS = ['xinetd', 'tsinetd', 'forklimit'];
const READY_TIMEOUT_MS = 15_000;
const SETTLE_MS = 300;
const RSS_SAMPLE_MS = 50;

class UsageError extends Error {}

function log(message) {
  process.stderr.write(`${message}\n`);
}

// ---- knobs ---------------------------------------------------------------------------------

function numberKnob(name, fallback, { min, integer = false }) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw new UsageError(`${name}=${raw}: expected ${integer ? 'an integer' : 'a number'} >= ${min}`);
  }
  return v;
}

function listKnob(name, allowed) {
  const raw = (process.env[name] ?? '').trim();
  if (!raw) return null;
  const items = raw.split(/[\s,]+/);
  const bad = items.filter((x) => allowed && !allowed.includes(x));
  if (bad.length) throw new UsageError(`${name}: unknown ${bad.join(', ')} (known: ${allowed.join(' ')})`);
  return items;
}

function readKnobs() {
  const udpTimeoutMs = numberKnob('UDP_TIMEOUT_MS', 50, { min: 1, integer: true });
  const all = scenarios({ udpTimeoutMs });
  const concs = (listKnob('CONCS', null) ?? ['1', '8', '64']).map((c) => {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 1 || n > 4096) throw new UsageError(`CONCS: ${c} is not an integer in 1..4096`);
    return n;
  });
  const portLo = numberKnob('PORT_LO', 30000, { min: 1024, integer: true });
  const portHi = numberKnob('PORT_HI', 39999, { min: portLo + 100, integer: true });
  if (portHi > 65535) throw new UsageError('PORT_HI must be <= 65535');
  const xlog = process.env.XLOG ?? '1';
  if (!['0', '1'].includes(xlog)) throw new UsageError('XLOG must be 0 or 1');
  return {
    dur: numberKnob('DUR', 3, { min: 0.2 }),
    warm: numberKnob('WARM', 1, { min: 0 }),
    rounds: numberKnob('ROUNDS', 3, { min: 1, integer: true }),
    concs,
    scenarios: listKnob('SCENARIOS', all.map((s) => s.id)),
    only: listKnob('ONLY', SERVERS),
    log: xlog === '1',
    udpTimeoutMs,
    portLo,
    portHi,
    keep: process.env.KEEP === '1',
    outDir: process.env.OUT_DIR || join(benchDir, 'results'),
    all,
  };
}

// ---- ports and readiness -------------------------------------------------------------------

const usedPorts = new Set();

function canBind(port, kind) {
  return new Promise((resolve) => {
    if (kind === 'tcp') {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
    } else {
      const s = dgram.createSocket('udp4');
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    }
  });
}

/** A port in [lo, hi] free for TCP and UDP on 127.0.0.1, never handed out twice in a run. */
async function freePort(k) {
  for (let i = 0; i < 500; i++) {
    const p = k.portLo + Math.floor(Math.random() * (k.portHi - k.portLo + 1));
    if (usedPorts.has(p)) continue;
    usedPorts.add(p);
    if ((await canBind(p, 'tcp')) && (await canBind(p, 'udp'))) return p;
  }
  throw new Error(`no free port found in ${k.portLo}-${k.portHi}`);
}

function tcpAnswers(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const done = (ok) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function udpAnswers(port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const done = (ok) => {
      clearTimeout(timer);
      s.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 200);
    s.once('message', () => done(true));
    s.once('error', () => done(false));
    s.send('probe\n', port, '127.0.0.1');
  });
}

async function waitReady(proto, port, child) {
  const until = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < until) {
    if (exited(child)) return false;
    if (await (proto === 'tcp' ? tcpAnswers(port) : udpAnswers(port))) return true;
    await sleep(50);
  }
  return false;
}

// ---- processes -------------------------------------------------------------------------------

let current = null; // the server running now, stopped on an unexpected exit of the runner
let scratch = null; // the run directory, removed on an unexpected exit unless KEEP=1

function exited(child) {
  // pid is undefined when the program could not be started at all (ENOENT, EACCES)
  return child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
}

async function waitExit(child, ms) {
  if (exited(child)) return true;
  return Promise.race([new Promise((r) => child.once('exit', () => r(true))), sleep(ms).then(() => exited(child))]);
}

/** SIGTERM, then SIGKILL after 3 s; then the helpers, by PID and identity, if they outlive it. */
async function stopServer(child, helpers) {
  if (!exited(child)) {
    child.kill('SIGTERM');
    if (!(await waitExit(child, 3000))) {
      child.kill('SIGKILL');
      await waitExit(child, 2000);
    }
  }
  const survivors = [];
  for (let i = 0; i < 20; i++) {
    survivors.length = 0;
    for (const h of helpers) if (identity(h.pid) === h.id) survivors.push(h);
    if (survivors.length === 0) return null;
    await sleep(100);
  }
  for (const h of survivors) {
    try {
      process.kill(h.pid, 'SIGKILL');
    } catch {
      // it ended by itself meanwhile
    }
  }
  return `helper(s) ${survivors.map((h) => `${h.comm}[${h.pid}]`).join(', ')} outlived the daemon and were killed`;
}

/** Children that are there now and still the same process `gapMs` later: long-lived helpers. */
async function longLivedChildren(pid, gapMs) {
  const first = childrenOf(pid).map((p) => ({ pid: p, id: identity(p) }));
  await sleep(gapMs);
  return first.filter((c) => c.id && identity(c.pid) === c.id).map((c) => ({ ...c, comm: commOf(c.pid) }));
}

/** CPU seconds each helper used between two reading sets (null for one that went away). */
function helpersCpu(before, after) {
  return before.map((r, i) => cpuBetween(r, after[i]));
}

function sumRss(pids) {
  let total = 0;
  for (const p of pids) total += rssKiB(p) ?? 0;
  return total;
}

function runLoadgen(tools, port, conc, seconds, args) {
  return new Promise((resolve, reject) => {
    const argv = ['-p', String(port), '-c', String(conc), '-d', String(seconds), '-n', '5000000', ...args];
    execFile(tools.loadgen, argv, { timeout: (seconds + 30) * 1000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`loadgen failed: ${err.message} ${stderr}`.trim()));
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`loadgen printed no JSON: ${stdout.slice(0, 200)}`));
      }
    });
  });
}

// ---- one server, one scenario ------------------------------------------------------------------

async function measure(server, scenario, round, k, tools, runDir) {
  const port = await freePort(k);
  const dir = join(runDir, `r${round + 1}-${scenario.id}-${server}`);
  mkdirSync(dir);
  const result = { round, scenario: scenario.id, server, port, runs: {}, loadAverage: [loadAverage()] };
  const out = openSync(join(dir, 'output.txt'), 'w');
  const [command, ...args] = serverArgv(server, scenario.id, port, dir, tools, k.log);
  const child = spawn(command, args, { cwd: dir, stdio: ['ignore', out, out] });
  closeSync(out);
  child.on('error', (e) => {
    result.error = `cannot start: ${e.message}`;
  });
  current = child;
  let helpers = [];
  try {
    if (!(await waitReady(scenario.proto, port, child))) {
      const tail = [join(dir, 'output.txt'), join(dir, 'daemon.log')]
        .filter(existsSync)
        .map((f) => readFileSync(f, 'utf8'))
        .join('')
        .trim()
        .slice(-400);
      const why = child.pid === undefined
        ? `could not be started (${command}: not found or not executable)`
        : exited(child)
        ? `exited (${child.exitCode ?? child.signalCode}) before answering on port ${port}`
        : `did not answer on port ${port} within ${READY_TIMEOUT_MS / 1000} s`;
      result.error ??= `${why}${tail ? `: ${tail}` : ''}`;
      return result;
    }
    const pid = child.pid;
    const idleHelpers = await longLivedChildren(pid, SETTLE_MS);
    const idleDaemon = rssKiB(pid);
    if (idleDaemon === null) throw new Error('the daemon exited right after it started answering');
    result.idle = { daemonKiB: idleDaemon, totalKiB: idleDaemon + sumRss(idleHelpers.map((h) => h.pid)) };
    if (k.warm > 0) await runLoadgen(tools, port, 8, k.warm, scenario.loadgen);
    helpers = await longLivedChildren(pid, SETTLE_MS);
    result.helpers = helpers.map(({ pid: p, comm }) => ({ pid: p, comm }));
    const helperPids = helpers.map((h) => h.pid);
    for (const c of k.concs) {
      let rssMax = 0;
      const sample = () => {
        const d = rssKiB(pid);
        if (d !== null) rssMax = Math.max(rssMax, d + sumRss(helperPids));
      };
      sample();
      const daemon0 = cpuReading(pid);
      const helpers0 = helperPids.map(cpuReading);
      const sampler = setInterval(sample, RSS_SAMPLE_MS);
      let lg;
      try {
        lg = await runLoadgen(tools, port, c, k.dur, scenario.loadgen);
      } finally {
        clearInterval(sampler);
      }
      const daemon1 = cpuReading(pid);
      const daemonS = cpuBetween(daemon0, daemon1);
      const perHelper = helpersCpu(helpers0, helperPids.map(cpuReading));
      if (daemonS === null) {
        result.error = `the daemon exited during the c=${c} run`;
        break;
      }
      const helperS = perHelper.reduce((sum, x) => sum + (x ?? 0), 0);
      result.runs[c] = {
        loadgen: lg,
        daemonCpuS: daemonS,
        daemonCpuFrom: threadsKept(daemon0, daemon1) ? 'schedstat' : 'stat ticks',
        helperCpuS: helperS,
        cpuUsPerConn: lg.ok ? ((daemonS + helperS) * 1e6) / lg.ok : null,
        helperCpuUsPerConn: lg.ok ? (helperS * 1e6) / lg.ok : null,
        rssMaxKiB: rssMax,
      };
      const gone = helpers.filter((h) => identity(h.pid) !== h.id);
      if (gone.length) {
        result.error = `helper ${gone.map((h) => h.comm).join(', ')} exited during the c=${c} run (its CPU is missing)`;
        break;
      }
    }
    if (server === 'tsinetd') {
      const m = /started with the (\S+) spawner/.exec(
        [join(dir, 'output.txt'), join(dir, 'daemon.log')].filter(existsSync).map((f) => readFileSync(f, 'utf8')).join(''),
      );
      if (m) result.spawner = m[1];
    }
  } catch (e) {
    result.error = e.message;
  } finally {
    const note = await stopServer(child, helpers);
    if (note) result.error = result.error ? `${result.error}; ${note}` : note;
    current = null;
    result.loadAverage.push(loadAverage());
  }
  return result;
}

// ---- main ----------------------------------------------------------------------------------------

function tsinetdVersion() {
  try {
    return JSON.parse(readFileSync(join(repoDir, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function summarize(result) {
  const runs = Object.entries(result.runs)
    .map(([c, r]) => `c${c} ${r.loadgen.rate.toFixed(0)}/s ${r.cpuUsPerConn === null ? '–' : r.cpuUsPerConn.toFixed(0)}µs f${r.loadgen.failed}`)
    .join('  ');
  return `${runs}${result.error ? `  ERROR: ${result.error.slice(0, 200)}` : ''}`;
}

async function main() {
  const k = readKnobs();
  const started = Date.now();
  const c = buildCParts(benchDir);
  const tools = { ...c, cat: existsSync('/bin/cat') ? '/bin/cat' : '/usr/bin/cat' };
  const available = new Map();
  const want = (s) => !k.only || k.only.includes(s);
  if (want('xinetd')) {
    const x = findXinetd(benchDir, log);
    if (x.error) log(`skipping xinetd: ${x.error}`);
    else {
      tools.xinetd = x.path;
      available.set('xinetd', x.version);
    }
  }
  if (want('tsinetd')) {
    const t = findTsinetd(repoDir);
    if (t.error) log(`skipping tsinetd: ${t.error}`);
    else {
      tools.tsinetd = t.argv;
      available.set('tsinetd', tsinetdVersion());
    }
  }
  if (want('forklimit')) available.set('forklimit', 'bench');
  const list = k.all.filter((s) => !k.scenarios || k.scenarios.includes(s.id));
  if (available.size === 0) throw new UsageError('no server to run (see the messages above)');

  const loads = [];
  const loadTimer = setInterval(() => loads.push(loadAverage()), 5000);
  const runDir = mkdtempSync(join(os.tmpdir(), 'tsinetd-bench-'));
  if (!k.keep) scratch = runDir;
  const results = [];
  log(`bench: ${k.rounds} round(s) × ${list.map((s) => s.id).join(' ')} × c=${k.concs.join(',')}, ${k.dur} s each; servers: ${[...available.keys()].join(' ')}`);
  try {
    for (let round = 0; round < k.rounds; round++) {
      for (const s of list) {
        const todo = s.servers.filter((srv) => available.has(srv));
        const shift = todo.length ? round % todo.length : 0;
        for (const server of [...todo.slice(shift), ...todo.slice(0, shift)]) {
          const r = await measure(server, s, round, k, tools, runDir);
          results.push(r);
          log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] r${round + 1} ${s.id.padEnd(3)} ${server.padEnd(9)} ${summarize(r)}`);
        }
      }
    }
  } finally {
    clearInterval(loadTimer);
    if (k.keep) log(`kept the run directory ${runDir}`);
    else rmSync(runDir, { recursive: true, force: true });
    scratch = null;
  }

  for (const r of results) loads.push(...r.loadAverage);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const meta = {
    stamp,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    kernel: os.release(),
    node: process.version,
    xinetdVersion: available.get('xinetd') ?? null,
    tsinetdVersion: available.get('tsinetd') ?? null,
    tsinetdSpawner: results.find((r) => r.spawner)?.spawner ?? null,
    dur: k.dur,
    warm: k.warm,
    rounds: k.rounds,
    concs: k.concs,
    log: k.log,
    udpTimeoutMs: k.udpTimeoutMs,
    elapsedS: (Date.now() - started) / 1000,
    loadAverage: {
      min: Math.min(...loads.filter((x) => x !== null)),
      median: median(loads),
      max: Math.max(...loads.filter((x) => x !== null)),
    },
  };
  const md = renderReport(results, meta, list);
  mkdirSync(k.outDir, { recursive: true });
  writeFileSync(join(k.outDir, `${stamp}.md`), md);
  writeFileSync(join(k.outDir, `${stamp}.json`), `${JSON.stringify({ meta, results }, null, 1)}\n`);
  writeFileSync(join(k.outDir, 'latest.md'), md);
  process.stdout.write(md);
  log(`written ${join(k.outDir, stamp)}.md and .json (${meta.elapsedS.toFixed(0)} s)`);
  const failedRuns = results.filter((r) => r.error).length;
  if (failedRuns) {
    log(`bench: ${failedRuns} server run(s) reported an error (see the report)`);
    process.exitCode = 1;
  }
}

function stopCurrent() {
  if (current && !exited(current)) current.kill('SIGKILL');
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}

process.on('exit', stopCurrent);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopCurrent();
    process.exit(130);
  });
}

main().catch((e) => {
  log(`bench: ${e instanceof UsageError ? '' : 'error: '}${e.message}`);
  process.exitCode = e instanceof UsageError ? 2 : 1;
});
