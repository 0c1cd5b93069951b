#!/usr/bin/env node
// spawn-micro.mjs - a loopback load test of the spawners alone (not part of npm test).
//
// A minimal "daemon" in this process accepts on 127.0.0.1 (pauseOnConnect), spawns PROGRAM
// per connection through a spawner with the socket as fds 0-2, and destroys its copy once
// spawn() settles. A client in a separate process keeps C connections open at a time until N
// have completed, each reading until the server closes. Reported per spawner (medians over
// rounds, spawners interleaved): conns/s, daemon CPU per connection (process.cpuUsage of this
// process, which excludes the client), the helper's own CPU per connection (native only,
// from /proc), and the daemon's RSS.
//
// usage: npm run build && node bench/spawn-micro.mjs [--n 2000] [--c 8] [--rounds 3]
//          [--spawner native,node,inproc] [--program /bin/echo] [ARGS...]
//   (inproc: no spawn, the daemon writes ARGS itself: the baseline cost of accept and close)
//        node bench/spawn-micro.mjs --listen PORT [--spawner native] [--program P] [ARGS...]
//          serves until SIGTERM/SIGINT (for an external load generator such as the shared
//          bench's loadgen), then prints connections served and CPU per connection.
//        SPAWND=/path/to/tsinetd-spawnd selects another build of the helper.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function parseArgs(argv) {
  const o = { n: 2000, c: 8, rounds: 3, spawners: ['native', 'node'], program: '/bin/echo', args: ['hello'] };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--n') o.n = Number(next());
    else if (a === '--c') o.c = Number(next());
    else if (a === '--rounds') o.rounds = Number(next());
    else if (a === '--spawner') o.spawners = next().split(',');
    else if (a === '--program') o.program = next();
    else if (a === '--listen') o.listen = Number(next());
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else rest.push(a);
  }
  if (rest.length > 0 || argv.includes('--program')) o.args = rest;
  if (!(o.n > 0 && o.c > 0 && o.rounds > 0)) throw new Error('--n, --c and --rounds must be positive');
  return o;
}

// ---- client (child process) ----------------------------------------------------------------

async function runClient(port, n, c) {
  let started = 0;
  let ok = 0;
  let failed = 0;
  const latencies = [];
  const one = () =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const s = net.connect(port, '127.0.0.1');
      let bytes = 0;
      const timer = setTimeout(() => s.destroy(new Error('timeout')), 10000);
      s.on('data', (d) => (bytes += d.length));
      s.on('error', () => {});
      s.on('close', () => {
        clearTimeout(timer);
        if (bytes > 0) {
          ok++;
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        } else failed++;
        resolve();
      });
    });
  const worker = async () => {
    while (started < n) {
      started++;
      await one();
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: c }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { ok, failed, seconds, p50: pct(0.5), p99: pct(0.99) };
}

// ---- daemon (this process) -----------------------------------------------------------------

async function makeSpawner(kind) {
  if (kind === 'native') {
    const { startNativeSpawner } = await import(`${root}build/src/spawn/native/spawn-native.js`);
    const { resolveHelper } = await import(`${root}build/src/spawn/native/helper-binary.js`);
    // SPAWND: another build of the helper, to compare variants
    const helperPath = process.env.SPAWND ?? resolveHelper({ build: false }).helper?.candidate.path;
    if (helperPath === undefined) throw new Error('no usable spawn helper (npm run build needs a C compiler)');
    return startNativeSpawner({ helperPath, onWarning: (m) => console.error(`warning: ${m}`) });
  }
  if (kind === 'node') {
    const { NodeSpawner } = await import(`${root}build/src/spawn/spawn-node.js`);
    return new NodeSpawner();
  }
  if (kind === 'inproc') {
    // No process at all: the reply is written by the daemon itself. The daemon CPU of a
    // spawner minus this one is what spawning costs the daemon beyond accept and close.
    return {
      spawn: (spec, sock) => new Promise((resolve) => sock.end(`${spec.argv.slice(1).join(' ')}\n`, () => resolve(0))),
      close: async () => {},
    };
  }
  throw new Error(`unknown spawner ${kind}`);
}

function procCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

function specFor(opts) {
  return {
    path: opts.program,
    argv: [opts.program.split('/').pop(), ...opts.args],
    env: ['PATH=/usr/bin:/bin'],
    uid: null,
    gid: null,
    groups: null,
    umask: 0o022,
    nice: null,
    rlimits: {},
  };
}

/** The daemon's part: spawn per connection, destroy our copy once spawn() settles. */
function spawningServer(spawner, spec, stats) {
  return net.createServer({ pauseOnConnect: true }, (sock) => {
    sock.on('error', () => {});
    spawner.spawn(spec, sock).then(
      () => {
        stats.spawned++;
        sock.destroy();
      },
      (err) => {
        if (stats.errors++ < 3) console.error(`spawn failed: ${err.message}`);
        sock.destroy();
      },
    );
  });
}

async function serveForever(kind, opts) {
  const spawner = await makeSpawner(kind);
  const stats = { spawned: 0, errors: 0 };
  const server = spawningServer(spawner, specFor(opts), stats);
  await new Promise((r) => server.listen(opts.listen, '127.0.0.1', 1024, r));
  const cpu0 = process.cpuUsage();
  const helperPid = spawner.helperPid ?? null;
  const helperCpu0 = helperPid ? procCpuSeconds(helperPid) : 0;
  console.log(`spawn-micro: ${kind} spawner serving ${opts.program} on 127.0.0.1:${opts.listen} (pid ${process.pid})`);
  const stop = async () => {
    const cpu = process.cpuUsage(cpu0);
    const n = Math.max(1, stats.spawned);
    const helper = helperPid ? ` helper ${(((procCpuSeconds(helperPid) - helperCpu0) * 1e6) / n).toFixed(0)} µs/conn` : '';
    console.log(
      `spawned ${stats.spawned} (errors ${stats.errors}); daemon ${(((cpu.user + cpu.system) / n)).toFixed(0)} µs/conn${helper};` +
        ` rss ${(process.memoryUsage().rss / 1048576).toFixed(1)} MiB`,
    );
    server.close();
    await spawner.close();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function round(kind, opts) {
  const spawner = await makeSpawner(kind);
  const stats = { spawned: 0, errors: 0 };
  const server = spawningServer(spawner, specFor(opts), stats);
  await new Promise((r) => server.listen(0, '127.0.0.1', 1024, r));
  const port = server.address().port;
  let maxRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage().rss)), 50);
  const helperPid = spawner.helperPid ?? null;
  const helperCpu0 = helperPid ? procCpuSeconds(helperPid) : 0;
  const cpu0 = process.cpuUsage();

  const client = fork(fileURLToPath(import.meta.url), ['--client', String(port), String(opts.n), String(opts.c)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const result = await new Promise((resolve, reject) => {
    client.once('message', resolve);
    client.once('error', reject);
    client.once('exit', (code) => code !== 0 && reject(new Error(`client exited with ${code}`)));
  });
  const cpu = process.cpuUsage(cpu0);
  const helperCpu = helperPid ? procCpuSeconds(helperPid) - helperCpu0 : null;
  clearInterval(sampler);
  await new Promise((r) => server.close(r));
  await spawner.close();
  const perConn = (s) => (s * 1e6) / Math.max(1, result.ok);
  return {
    kind,
    connsPerSec: result.ok / result.seconds,
    ok: result.ok,
    failed: result.failed + stats.errors,
    p50: result.p50,
    p99: result.p99,
    daemonUs: perConn((cpu.user + cpu.system) / 1e6),
    helperUs: helperCpu === null ? null : perConn(helperCpu),
    rssMiB: maxRss / 1048576,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function main() {
  if (process.argv[2] === '--client') {
    const [port, n, c] = process.argv.slice(3).map(Number);
    process.send(await runClient(port, n, c));
    process.disconnect();
    return;
  }
  const opts = parseArgs(process.argv.slice(2));
  if (opts.listen !== undefined) {
    await serveForever(opts.spawners[0], opts);
    return;
  }
  console.log(`spawn-micro: ${opts.program} ${opts.args.join(' ')}  N=${opts.n} c=${opts.c} rounds=${opts.rounds}  node ${process.version}`);
  const results = new Map(opts.spawners.map((k) => [k, []]));
  for (let r = 0; r < opts.rounds; r++) {
    // rotate the order so that neither spawner always runs on a warmer machine
    const order = opts.spawners.map((_, i) => opts.spawners[(i + r) % opts.spawners.length]);
    for (const kind of order) {
      const res = await round(kind, opts);
      results.get(kind).push(res);
      console.log(
        `  round ${r + 1} ${kind.padEnd(6)} ${res.connsPerSec.toFixed(0).padStart(6)} conns/s  daemon ${res.daemonUs.toFixed(0).padStart(5)} µs/conn` +
          (res.helperUs === null ? '' : `  helper ${res.helperUs.toFixed(0)} µs/conn`) +
          `  p50 ${res.p50.toFixed(1)} ms  p99 ${res.p99.toFixed(1)} ms  rss ${res.rssMiB.toFixed(1)} MiB  failed ${res.failed}`,
      );
    }
  }
  console.log('\nmedians:');
  console.log('| spawner | conns/s | daemon CPU µs/conn | helper CPU µs/conn | p50 ms | p99 ms | daemon RSS max MiB | failed |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [kind, rs] of results) {
    const m = (f) => median(rs.map(f));
    const helper = rs[0].helperUs === null ? '–' : m((x) => x.helperUs).toFixed(0);
    console.log(
      `| ${kind} | ${m((x) => x.connsPerSec).toFixed(0)} | ${m((x) => x.daemonUs).toFixed(0)} | ${helper} | ${m((x) => x.p50).toFixed(1)} | ${m((x) => x.p99).toFixed(1)} | ${m((x) => x.rssMiB).toFixed(1)} | ${rs.reduce((a, x) => a + x.failed, 0)} |`,
    );
  }
}

main().catch((err) => {
  console.error(`spawn-micro: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
