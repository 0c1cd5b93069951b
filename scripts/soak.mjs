#!/usr/bin/env node
// `npm run soak`: a long run of tsinetd's spawn path with every kind of client, then checks
// that nothing was left behind. Not part of `npm test` (it takes minutes).
//
// One tsinetd (foreground, built tree) serves, on 127.0.0.1 ports chosen at start:
//   reply   /bin/cat of a payload file (allowed clients check every byte); only_from 127.0.0.1,
//           so clients bound to 127.0.0.2 are refused
//   crash   a server that kills itself with SIGSEGV before answering
//   hang    a server that sleeps SOAK_HANG_SECONDS, instances = SOAK_HANG_INSTANCES
//   slow    a server that waits (at most SOAK_SLOW_SECONDS) for a line nobody sends,
//           instances = SOAK_SLOW_INSTANCES
// Clients, SOAK_CONCURRENCY at a time, in this mix: allowed 60 %, refused (from 127.0.0.2) 15 %,
// hang up at once 10 %, crash 8 %, hang 7 %; plus SOAK_SLOWLORIS clients that connect to `slow`,
// never send, and hold the connection for up to SOAK_SLOW_SECONDS, over and over.
// Meanwhile the children of the daemon (and of its spawn helper) are sampled from /proc to
// check that no service ever has more servers than its `instances`.
//
// Afterwards: the daemon is still up and serving; its descriptor count is back to the baseline
// taken after a warm-up, its RSS too (within SOAK_RSS_SLACK_MB); no zombie; every allowed client
// got its full reply; no client saw an unexpected outcome. Figures are printed, and the exit
// status is 0 only when every check passed.
//
// Knobs (environment): SOAK_CONNECTIONS (100000), SOAK_CONCURRENCY (32), SOAK_MAX_SECONDS (420,
// the run stops there even if the count is not reached, which fails the run), SOAK_PAYLOAD
// (16384 bytes), SOAK_HANG_SECONDS (2), SOAK_HANG_INSTANCES (4), SOAK_SLOW_SECONDS (2),
// SOAK_SLOW_INSTANCES (8), SOAK_SLOWLORIS (12), SOAK_RSS_SLACK_MB (24), SOAK_SPAWNER
// (native|node, default: tsinetd's choice), SOAK_KEEP=1 keeps the work directory.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blockList } from './block-list.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'build', 'bin', 'tsinetd.mjs');

function knob(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    say(`${name}=${v} is not a non-negative number`);
    process.exit(2);
  }
  return n;
}

const K = {
  connections: knob('SOAK_CONNECTIONS', 100_000),
  concurrency: Math.max(1, knob('SOAK_CONCURRENCY', 32)),
  maxSeconds: knob('SOAK_MAX_SECONDS', 420),
  payload: Math.max(1, knob('SOAK_PAYLOAD', 16_384)),
  hangSeconds: knob('SOAK_HANG_SECONDS', 2),
  hangInstances: Math.max(1, knob('SOAK_HANG_INSTANCES', 4)),
  slowSeconds: knob('SOAK_SLOW_SECONDS', 2),
  slowInstances: Math.max(1, knob('SOAK_SLOW_INSTANCES', 8)),
  slowloris: knob('SOAK_SLOWLORIS', 12),
  rssSlackMb: knob('SOAK_RSS_SLACK_MB', 24),
};
const REPLY_INSTANCES = K.concurrency * 4;

function say(msg) {
  process.stderr.write(`soak: ${msg}\n`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.platform !== 'linux') {
  say('needs Linux (/proc)');
  process.exit(2);
}
if (!existsSync(cli)) {
  say('tsinetd is not built: run `npm run build` first');
  process.exit(2);
}

// ---- ports and configuration -------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ port: 0, host: '::' }, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'tsinetd-soak-'));
const payload = randomBytes(K.payload);
writeFileSync(join(work, 'payload'), payload);
writeFileSync(join(work, 'crash'), '#!/bin/sh\nkill -SEGV $$\n', { mode: 0o755 });
const ports = { reply: await freePort(), crash: await freePort(), hang: await freePort(), slow: await freePort() };

function service(name, attrs) {
  const base = { type: 'UNLISTED', socket_type: 'stream', protocol: 'tcp', wait: 'no', user: runAs, flags: 'NAMEINARGS IPv4', bind: '127.0.0.1' };
  const all = { ...base, port: String(ports[name]), ...attrs };
  return `service soak-${name}\n{\n${Object.entries(all).map(([k, v]) => `\t${k} = ${v}`).join('\n')}\n}\n`;
}

// The servers run as the user running the soak (a daemon that is not root can start no other).
const runAs = userInfo().username;

const conf = [
  `defaults\n{\n\tlog_type = FILE ${join(work, 'services.log')}\n\tlog_on_success = PID EXIT\n\tlog_on_failure = HOST\n\tcps = 1000000 1\n\tpassenv =\n}\n`,
  service('reply', { server: '/bin/cat', server_args: `soak-reply ${join(work, 'payload')}`, only_from: '127.0.0.1', instances: String(REPLY_INSTANCES) }),
  service('crash', { server: '/bin/sh', server_args: `soak-crash ${join(work, 'crash')}`, instances: String(REPLY_INSTANCES) }),
  service('hang', { server: '/bin/sleep', server_args: `soak-hang ${K.hangSeconds}`, instances: String(K.hangInstances) }),
  service('slow', { server: '/usr/bin/timeout', server_args: `soak-slow ${K.slowSeconds} head -n 1`, instances: String(K.slowInstances) }),
].join('\n');
writeFileSync(join(work, 'xinetd.conf'), conf);
const INSTANCES = { 'soak-reply': REPLY_INSTANCES, 'soak-crash': REPLY_INSTANCES, 'soak-hang': K.hangInstances, 'soak-slow': K.slowInstances };

// ---- the daemon ------------------------------------------------------------------------------------

const env = { ...process.env };
if (process.env.SOAK_SPAWNER) env.TSINETD_SPAWNER = process.env.SOAK_SPAWNER;
const daemonLog = join(work, 'daemon.log');
// TCP wrappers on every connection: a 5,000-line block-list that matches no soak client (and
// never the machine's own /etc/hosts.allow and /etc/hosts.deny).
writeFileSync(join(work, 'hosts.allow'), '');
writeFileSync(join(work, 'hosts.deny'), blockList(5000));
const wrappers = ['--hosts-allow', join(work, 'hosts.allow'), '--hosts-deny', join(work, 'hosts.deny')];
const daemon = spawn(process.execPath, [cli, '-dontfork', '-f', join(work, 'xinetd.conf'), '-filelog', daemonLog, '-pidfile', join(work, 'pid'), ...wrappers], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env,
});
let daemonExit = null;
daemon.once('exit', (code, signal) => {
  daemonExit = { code, signal };
});

function cleanup() {
  if (daemonExit === null) daemon.kill('SIGKILL');
  if (process.env.SOAK_KEEP !== '1') rmSync(work, { recursive: true, force: true });
  else say(`work directory kept: ${work}`);
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const readText = (p) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
};

{
  const deadline = Date.now() + 20_000;
  while (!/Started working/.test(readText(daemonLog))) {
    if (daemonExit !== null || Date.now() > deadline) {
      say(`tsinetd did not start:\n${readText(daemonLog)}`);
      cleanup();
      process.exit(1);
    }
    await sleep(50);
  }
}

// ---- /proc ---------------------------------------------------------------------------------------

function childrenOf(pid) {
  const out = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readText(`/proc/${pid}/task/${tid}/children`).trim();
      if (text !== '') out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

const cmdline = (pid) => readText(`/proc/${pid}/cmdline`).split('\0');
const stateOf = (pid) => {
  const stat = readText(`/proc/${pid}/stat`);
  const close = stat.lastIndexOf(')');
  return close < 0 ? '?' : stat.slice(close + 2, close + 3);
};

/** The spawn helper (native spawner), if any. */
function helpers() {
  return childrenOf(daemon.pid).filter((p) => (cmdline(p)[0] ?? '').endsWith('tsinetd-spawnd'));
}

/** The servers: direct children of the daemon and of its helper, with argv[0] and state. */
function servers() {
  const parents = [daemon.pid, ...helpers()];
  const out = [];
  for (const parent of parents) {
    for (const pid of childrenOf(parent)) {
      const argv0 = cmdline(pid)[0] ?? '';
      if (argv0.endsWith('tsinetd-spawnd') || argv0 === 'logger') continue;
      // Forked by the Node spawner, not exec'd yet: still the daemon's command line.
      out.push({ pid, argv0: argv0 === process.execPath ? 'starting' : argv0, state: stateOf(pid) });
    }
  }
  return out;
}

function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

function rssKb(pid) {
  const m = readText(`/proc/${pid}/status`).match(/^VmRSS:\s+(\d+) kB/m);
  return m === null ? -1 : Number(m[1]);
}

const maxSeen = {};
let samples = 0;
function sample() {
  samples++;
  const count = {};
  // An exiting server has no command line any more (but is not reaped yet): "exiting".
  for (const s of servers()) if (s.state !== 'Z') count[s.argv0 || 'exiting'] = (count[s.argv0 || 'exiting'] ?? 0) + 1;
  for (const [k, n] of Object.entries(count)) maxSeen[k] = Math.max(maxSeen[k] ?? 0, n);
}

async function quiet(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = servers();
    if (left.length === 0) return [];
    if (Date.now() > deadline) return left;
    await sleep(100);
  }
}

// ---- clients -------------------------------------------------------------------------------------

const tally = {};
const problems = [];
function count(kind, outcome) {
  const key = `${kind}:${outcome}`;
  tally[key] = (tally[key] ?? 0) + 1;
}
function problem(text) {
  if (problems.length < 20) problems.push(text);
  count('problem', 'total');
}

/** Connects and reads until the server closes. Resolves with the bytes and how it ended. */
function exchange(port, { localAddress, hangUp = false, holdMs = 0, timeoutMs = 15_000 } = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    let done = false;
    const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
    const finish = (how) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(hold);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks, size), how });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    let hold = null;
    socket.on('connect', () => {
      if (hangUp) finish('hung-up');
      else if (holdMs > 0) hold = setTimeout(() => finish('held'), holdMs);
    });
    socket.on('data', (d) => {
      chunks.push(d);
      size += d.length;
    });
    socket.on('end', () => finish('eof'));
    socket.on('close', () => finish('eof'));
    socket.on('error', (e) => finish(e.code ?? 'error'));
  });
}

async function allowed() {
  const r = await exchange(ports.reply);
  if (r.how === 'eof' && r.data.length === payload.length && r.data.equals(payload)) count('allowed', 'full-reply');
  else {
    count('allowed', 'BAD');
    problem(`allowed client: ${r.how}, ${r.data.length} of ${payload.length} bytes${r.data.length === payload.length ? ' (different bytes)' : ''}`);
  }
}

async function refused() {
  const r = await exchange(ports.reply, { localAddress: '127.0.0.2', timeoutMs: 10_000 });
  if (r.data.length === 0 && (r.how === 'eof' || r.how === 'ECONNRESET')) count('refused', 'closed');
  else {
    count('refused', 'BAD');
    problem(`refused client: ${r.how}, ${r.data.length} bytes`);
  }
}

async function hangUp() {
  const r = await exchange(ports.reply, { hangUp: true });
  count('hang-up', r.how === 'hung-up' ? 'ok' : r.how);
  if (r.how !== 'hung-up') problem(`hang-up client: ${r.how}`);
}

async function crash() {
  const r = await exchange(ports.crash);
  // Served (the server dies at once: no bytes) or over its instances: closed either way.
  if (r.data.length === 0 && (r.how === 'eof' || r.how === 'ECONNRESET')) count('crash', 'closed');
  else {
    count('crash', 'BAD');
    problem(`crash client: ${r.how}, ${r.data.length} bytes`);
  }
}

async function hang() {
  // The server sleeps; the client goes away at once (the server keeps its instance slot).
  const r = await exchange(ports.hang, { holdMs: 1 });
  count('hang', r.how === 'held' || r.how === 'eof' ? 'ok' : r.how);
  if (r.how !== 'held' && r.how !== 'eof') problem(`hang client: ${r.how}`);
}

const MIX = [
  [60, allowed],
  [15, refused],
  [10, hangUp],
  [8, crash],
  [7, hang],
];
const TOTAL_WEIGHT = MIX.reduce((a, [w]) => a + w, 0);
function pick(i) {
  // A fixed interleaving (deterministic, evenly spread).
  let x = (i * 37) % TOTAL_WEIGHT;
  for (const [w, f] of MIX) {
    if (x < w) return f;
    x -= w;
  }
  return allowed;
}

async function run(total, seconds, withSlowloris, onProgress) {
  let next = 0;
  let stop = false;
  const deadline = Date.now() + seconds * 1000;
  const worker = async () => {
    while (!stop && next < total) {
      if (Date.now() > deadline) {
        stop = true;
        break;
      }
      const i = next++;
      await pick(i)();
    }
  };
  const slowloris = async () => {
    while (!stop && next < total) {
      const r = await exchange(ports.slow, { holdMs: 200 + Math.floor(Math.random() * K.slowSeconds * 1000) });
      count('slowloris', r.how === 'held' || r.how === 'eof' || r.how === 'ECONNRESET' ? 'ok' : r.how);
    }
  };
  const ticker = setInterval(() => onProgress?.(next), 5000);
  const sampler = setInterval(sample, 25);
  try {
    await Promise.all([
      ...Array.from({ length: K.concurrency }, worker),
      ...Array.from({ length: withSlowloris ? K.slowloris : 0 }, slowloris),
    ]);
  } finally {
    stop = true;
    clearInterval(ticker);
    clearInterval(sampler);
  }
  return next;
}

// ---- the run -------------------------------------------------------------------------------------------

const results = [];
function check(name, ok, detail) {
  results.push({ name, ok, detail });
}

try {
  say(`work directory ${work}; ports ${JSON.stringify(ports)}; ${K.connections} connections at c=${K.concurrency} (+${K.slowloris} slowloris), at most ${K.maxSeconds} s`);
  await run(2000, 60, false);
  const warmLeft = await quiet(K.hangSeconds * 1000 + 10_000);
  if (warmLeft.length > 0) say(`servers still running after the warm-up: ${warmLeft.length}`);
  await sleep(500);
  const helper0 = helpers()[0] ?? null;
  const base = { fds: fdCount(daemon.pid), rss: rssKb(daemon.pid), helperFds: helper0 === null ? null : fdCount(helper0) };
  say(`baseline after warm-up: daemon fds ${base.fds}, RSS ${(base.rss / 1024).toFixed(1)} MiB${helper0 === null ? ' (Node spawner)' : `, helper fds ${base.helperFds}`}`);
  for (const k of Object.keys(tally)) delete tally[k];
  problems.length = 0;

  const t0 = Date.now();
  let peakRss = base.rss;
  const rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, rssKb(daemon.pid));
  }, 1000);
  const done = await run(K.connections, K.maxSeconds, true, (n) => say(`${n} connections, ${((Date.now() - t0) / 1000).toFixed(0)} s`));
  clearInterval(rssTimer);
  const seconds = (Date.now() - t0) / 1000;
  say(`${done} connections in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)}/s); waiting for the servers to finish`);

  const left = await quiet(Math.max(K.hangSeconds, K.slowSeconds) * 1000 + 15_000);
  await sleep(1000); // let the daemon log, reap and free what it held
  const helper1 = helpers()[0] ?? null;
  const after = { fds: fdCount(daemon.pid), rss: rssKb(daemon.pid), helperFds: helper1 === null ? null : fdCount(helper1) };
  const zombies = servers().filter((s) => s.state === 'Z');
  const last = await exchange(ports.reply);

  check('connections made', done >= K.connections, `${done} of ${K.connections} in ${seconds.toFixed(1)} s`);
  check('daemon still running and serving', daemonExit === null && last.data.equals(payload), daemonExit === null ? `final request: ${last.how}, ${last.data.length} bytes` : `exited ${JSON.stringify(daemonExit)}`);
  check('every allowed client got its full reply', (tally['allowed:BAD'] ?? 0) === 0 && (tally['allowed:full-reply'] ?? 0) > 0, `${tally['allowed:full-reply'] ?? 0} full replies, ${tally['allowed:BAD'] ?? 0} bad`);
  check('no unexpected outcome for any client', problems.length === 0, problems.length === 0 ? 'none' : problems.join('; '));
  check('no server left running', left.length === 0, left.length === 0 ? 'none' : left.map((s) => `${s.argv0}(${s.pid},${s.state})`).join(' '));
  check('no zombie', zombies.length === 0, `${zombies.length}`);
  check('daemon descriptors back to baseline', after.fds <= base.fds, `${base.fds} → ${after.fds}`);
  if (base.helperFds !== null) check('helper descriptors back to baseline', after.helperFds !== null && after.helperFds <= base.helperFds, `${base.helperFds} → ${after.helperFds}`);
  check(
    'daemon RSS back to baseline',
    after.rss <= base.rss + K.rssSlackMb * 1024,
    `${(base.rss / 1024).toFixed(1)} MiB → peak ${(peakRss / 1024).toFixed(1)} → ${(after.rss / 1024).toFixed(1)} MiB (slack ${K.rssSlackMb} MiB)`,
  );
  const over = Object.entries(maxSeen).filter(([k, n]) => INSTANCES[k] !== undefined && n > INSTANCES[k]);
  check(
    'instances never exceeded',
    over.length === 0 && samples > 0,
    `${samples} samples; max running: ${Object.entries(maxSeen).map(([k, n]) => `${k} ${n}/${INSTANCES[k] ?? '?'}`).join(', ')}`,
  );
  const log = readText(join(work, 'services.log'));
  const exits = (re) => (log.match(re) ?? []).length;
  say(
    `service log: ${exits(/START: soak-reply/g)} reply starts, ${exits(/EXIT: soak-crash signal=11/g)} crashes (signal 11), ` +
      `${exits(/FAIL: soak-reply address/g)} address refusals, ${exits(/FAIL: soak-(hang|slow) service_limit/g)} instance refusals`,
  );
  say(`clients: ${Object.entries(tally).map(([k, n]) => `${k} ${n}`).join(', ')}`);
} catch (err) {
  check('the soak ran to the end', false, err instanceof Error ? err.stack ?? err.message : String(err));
} finally {
  if (daemonExit === null) {
    daemon.kill('SIGTERM');
    const deadline = Date.now() + 5000;
    while (daemonExit === null && Date.now() < deadline) await sleep(50);
  }
  cleanup();
}

let failed = 0;
for (const r of results) {
  if (!r.ok) failed++;
  process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.name}: ${r.detail}\n`);
}
process.stdout.write(`${JSON.stringify({ soak: failed === 0 ? 'pass' : 'fail', checks: results.length, failed })}\n`);
process.exitCode = failed === 0 ? 0 : 1;
