// examples/logrotate/tsinetd with the real logrotate against a live tsinetd: a bounded load of
// connections, each leaving known lines in a service FILE log (START, USERID, EXIT; FAIL for
// a refused client), while logrotate rotates that log and the daemon log (-filelog)
// several times, signalling tsinetd through its pid file. Afterwards every line of the
// rotated, compressed and current files is counted: each connection's lines are there exactly
// once, none lost, none twice. Accepted connections are told apart by their USERID line: the
// test's identd answers each ident query with the marker the client chose for that connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { internalService, ROOT, startDaemon } from '../../helpers/daemon.js';
import { startIdentd } from '../../helpers/identd.js';
import { freePort, waitFor, withTimeout } from '../../helpers/net.js';

const LOGROTATE = ['/usr/sbin/logrotate', '/opt/logrotate-ref/usr/sbin/logrotate'].find((p) => existsSync(p));
const EXAMPLE = join(ROOT, 'examples', 'logrotate', 'tsinetd');

/** Connections to make (fewer if the time runs out first), and how many at once. */
const CONNECTIONS = 2000;
const CONCURRENCY = 8;
const LOAD_SECONDS = 60;
/** logrotate runs during the load. */
const ROTATIONS = 5;
/** Every REFUSED_EVERY-th client comes from 127.0.0.2, which only_from refuses. */
const REFUSED_EVERY = 10;

/** Runs logrotate; resolves with its exit status and output. */
function logrotate(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(LOGROTATE!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** The lines of `base` and of its rotations (base.1, base.2.gz, …): all of them, and file by file, oldest first. */
function linesOfAll(dir: string, base: string): { lines: string[]; files: string[][]; rotated: number } {
  const rotated = readdirSync(dir)
    .map((n) => ({ n, m: new RegExp(`^${base.replace('.', '\\.')}\\.(\\d+)(\\.gz)?$`).exec(n) }))
    .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => Number(b.m[1]) - Number(a.m[1]));
  const texts = rotated.map(({ n, m }) => {
    const raw = readFileSync(join(dir, n));
    return m[2] !== undefined ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  });
  texts.push(readFileSync(join(dir, base), 'utf8'));
  for (const t of texts) assert.ok(t === '' || t.endsWith('\n'), 'every file ends with a whole line');
  const files = texts.map((t) => t.split('\n').filter((l) => l !== ''));
  return { lines: files.flat(), files, rotated: rotated.length };
}

const count = (lines: readonly string[], re: RegExp): number => lines.filter((l) => re.test(l)).length;

test(
  'logrotate rotates the service and daemon logs of a live tsinetd under load: every line once, none lost',
  { skip: LOGROTATE === undefined ? 'logrotate is not installed (Debian package logrotate, or unpacked in /opt/logrotate-ref)' : false, timeout: 120_000 },
  async (t) => {
    // The identd answers each query with the marker of the connection whose client port it names.
    const markerOfPort = new Map<number, string>();
    const answered = new Map<string, () => void>();
    const identd = await startIdentd(t, (q, reply) => {
      const clientPort = Number(/^\s*(\d+)\s*,/.exec(q)?.[1]);
      const started = Date.now();
      const answer = (): void => {
        const marker = markerOfPort.get(clientPort);
        if (marker === undefined && Date.now() - started < 5000) {
          setTimeout(answer, 2);
          return;
        }
        reply(marker === undefined ? `${q} : ERROR : NO-USER\r\n` : `${q.replace(/\s/g, '')} : USERID : UNIX : ${marker}\r\n`);
        if (marker !== undefined) answered.get(marker)?.();
      };
      answer();
    });

    const port = await freePort();
    const d = await startDaemon(t, {
      // cps above the load (xinetd's default, 50 a second, would switch the service off).
      services: [
        internalService('echo', port, 'stream', {
          only_from: '127.0.0.1',
          cps: '100000 1',
          log_on_success: 'PID HOST USERID EXIT DURATION',
          log_on_failure: 'HOST',
        }),
      ],
      env: { ...process.env, TSINETD_IDENT_PORT: String(identd.port) },
    });

    // The example, with this test's directory in place of /var/log/tsinetd and its pid file.
    const example = readFileSync(EXAMPLE, 'utf8');
    assert.match(example, /^\/var\/log\/tsinetd\/\*\.log \{$/m);
    assert.match(example, /\/run\/tsinetd\.pid/);
    assert.doesNotMatch(example, /^\s*copytruncate/m);
    const keep = Number(/^\s*rotate (\d+)$/m.exec(example)?.[1]);
    assert.ok(keep >= ROTATIONS, `rotate ${keep} keeps every rotation of the test`);
    const config = join(d.dir, 'logrotate.conf');
    writeFileSync(config, example.replace(/^\/var\/log\/tsinetd\//m, `${d.dir}/`).replaceAll('/run/tsinetd.pid', d.pidfile), { mode: 0o644 });
    const state = join(d.dir, 'logrotate.state');

    // The load: CONCURRENCY clients in turn, each connection with its own marker.
    const accepted: string[] = [];
    const refused: string[] = [];
    let next = 0;
    let failures = 0;
    const deadline = Date.now() + LOAD_SECONDS * 1000;
    const one = (i: number): Promise<void> =>
      new Promise((resolve, reject) => {
        const marker = `conn-${String(i).padStart(5, '0')}`;
        const refuse = i % REFUSED_EVERY === REFUSED_EVERY - 1;
        // An accepted connection is identified by its USERID line (a refused one gets no lookup).
        const identified = refuse ? Promise.resolve() : new Promise<void>((done) => answered.set(marker, done));
        let echoed = '';
        let localPort = 0;
        const s = net.connect({ port, host: '127.0.0.1', localAddress: refuse ? '127.0.0.2' : '127.0.0.1' }, () => {
          localPort = s.localPort!;
          if (refuse) return;
          markerOfPort.set(localPort, marker);
          s.write(`${marker}\n`);
        });
        s.setEncoding('utf8');
        s.on('data', (data: string) => {
          echoed += data;
          // Closed only once the identd has answered for this port: no other connection can take it meanwhile.
          if (echoed === `${marker}\n`) void identified.then(() => s.end());
        });
        // A refused client may see its connection reset; an accepted one must not.
        s.on('error', (err) => {
          if (!refuse) reject(err);
        });
        s.on('close', () => {
          void identified.then(() => {
            if (markerOfPort.get(localPort) === marker) markerOfPort.delete(localPort);
            answered.delete(marker);
            if (refuse) refused.push(marker);
            else if (echoed === `${marker}\n`) accepted.push(marker);
            else failures++;
            resolve();
          });
        });
        s.setTimeout(15_000, () => s.destroy(new Error(`${marker}: no answer`)));
      });
    const worker = async (): Promise<void> => {
      while (next < CONNECTIONS && Date.now() < deadline) {
        const i = next++;
        await withTimeout(one(i), 20_000, `connection ${i}`).catch((err: unknown) => {
          const tail = d.serviceLog().split('\n').slice(-6).join('\n');
          throw new Error(
            `${err instanceof Error ? err.message : String(err)}; ident queries: ${identd.queries.slice(-4).join(' | ')}; service log ends:\n${tail}`,
          );
        });
      }
    };
    const started = Date.now();
    const load = Promise.all(Array.from({ length: CONCURRENCY }, worker));

    // Meanwhile logrotate, at even steps of the load. Before the next rotation the daemon must have
    // reopened its files (its "Reconfigured" line is in the new daemon.log): rotating again before
    // that would compress a file still being written, which delaycompress exists to avoid.
    let rotations = 0;
    let duringRotation = 0;
    let loadDone = false;
    load.then(
      () => (loadDone = true),
      () => (loadDone = true),
    );
    for (let k = 1; k <= ROTATIONS; k++) {
      await waitFor(
        () => (accepted.length + refused.length >= (k * CONNECTIONS) / (ROTATIONS + 1) || loadDone ? true : undefined),
        LOAD_SECONDS * 1000,
        `load step ${k}`,
      );
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the load's callbacks during the awaits
      if (loadDone) break;
      const before = accepted.length + refused.length;
      const r = await logrotate(['-f', '-s', state, config]);
      assert.equal(r.code, 0, r.out);
      rotations++;
      await waitFor(
        () => (/Reconfigured: /.test(d.daemonLog()) ? true : undefined),
        10_000,
        `tsinetd to reopen its logs after rotation ${k}\n${d.daemonLog()}`,
      );
      // Under load: clients were served between the rename and the reopen.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the load's callbacks during the awaits
      if (!loadDone) assert.ok(accepted.length + refused.length > before, `connections during rotation ${k}`);
      duringRotation += accepted.length + refused.length - before;
    }
    await load;
    const seconds = (Date.now() - started) / 1000;
    assert.equal(failures, 0, 'every accepted client got its echo');
    // Stopping writes what tsinetd has gathered.
    const stopped = await d.stop();
    assert.equal(stopped.code, 0, d.stderr());
    t.diagnostic(`${accepted.length} accepted and ${refused.length} refused connections in ${seconds.toFixed(1)} s, ${rotations} rotations`);
    t.diagnostic(
      `${accepted.length * 3} service lines of accepted connections expected; ${duringRotation} connections ended while logrotate ran or tsinetd reopened`,
    );
    assert.ok(rotations >= 3, `at least 3 rotations under load (${rotations}); the machine is too slow for ${LOAD_SECONDS} s`);

    // The service log: each connection's lines exactly once, across every file.
    const svc = linesOfAll(d.dir, 'services.log');
    assert.equal(svc.rotated, rotations, 'one rotated service log per rotation');
    const shapes = [
      /: START: echo-stream pid=\d+ from=(::ffff:)?127\.0\.0\.1$/,
      /: EXIT: echo-stream status=\d+ pid=\d+ duration=\d+\(sec\)$/,
      /: USERID: echo-stream UNIX : conn-\d{5}$/,
      /: FAIL: echo-stream address from=(::ffff:)?127\.0\.0\.2$/,
    ];
    const odd = svc.lines.filter((l) => !shapes.some((re) => re.test(l)));
    assert.deepEqual(odd, [], 'only whole lines of known shapes');
    assert.equal(count(svc.lines, /: START: /), accepted.length, 'a START line per accepted connection');
    assert.equal(count(svc.lines, /: EXIT: /), accepted.length, 'an EXIT line per accepted connection');
    // FAIL lines of one address beyond the first 5 are held back (at most one a second) and
    // counted in the daemon log: written + counted = refused.
    const daemon = linesOfAll(d.dir, 'daemon.log');
    const heldBack = daemon.lines.reduce(
      (n, l) => n + Number(/WARNING: (\d+) similar FAIL lines? of service echo-stream suppressed \[fail-lines-suppressed\]$/.exec(l)?.[1] ?? 0),
      0,
    );
    const fails = count(svc.lines, /: FAIL: /);
    assert.ok(fails >= 5, `the first FAIL lines are written (${fails})`);
    assert.equal(fails + heldBack, refused.length, `a FAIL line per refused connection, or one counted as held back (${fails} + ${heldBack})`);
    const markers = svc.lines.flatMap((l) => /: USERID: echo-stream UNIX : (conn-\d{5})$/.exec(l)?.[1] ?? []);
    assert.deepEqual([...markers].sort(), [...accepted].sort(), 'a USERID line per accepted connection, with its own marker, once');

    // The daemon log: one start, a reload per rotation, one stop; nothing lost or repeated.
    assert.equal(daemon.rotated, rotations, 'one rotated daemon log per rotation');
    assert.equal(count(daemon.lines, /NOTICE: Started working: /), 1);
    assert.equal(count(daemon.lines, /NOTICE: Starting reconfiguration$/), rotations);
    assert.equal(count(daemon.lines, /NOTICE: readjusting service echo-stream$/), rotations);
    assert.equal(count(daemon.lines, /NOTICE: Reconfigured: new=0 old=1 dropped=0 \(services\)$/), rotations);
    assert.equal(count(daemon.lines, /Exiting\.\.\.$/), 1);
    // Each reload began in one file and ended in the next: the reopen came between its lines.
    daemon.files.forEach((lines, i) => {
      assert.equal(count(lines, /NOTICE: Starting reconfiguration$/), i < rotations ? 1 : 0, `daemon log ${i}: ${lines.join('\n')}`);
      assert.equal(count(lines, /NOTICE: Reconfigured: /), i > 0 ? 1 : 0, `daemon log ${i}: ${lines.join('\n')}`);
    });
  },
);

test(
  'a rotation while the configuration has an error still moves every line to the new files',
  { skip: LOGROTATE === undefined ? 'logrotate is not installed (Debian package logrotate, or unpacked in /opt/logrotate-ref)' : false },
  async (t) => {
    const port = await freePort();
    const echo = internalService('echo', port, 'stream');
    const d = await startDaemon(t, { services: [echo] });
    const config = join(d.dir, 'logrotate.conf');
    writeFileSync(
      config,
      readFileSync(EXAMPLE, 'utf8')
        .replace(/^\/var\/log\/tsinetd\//m, `${d.dir}/`)
        .replaceAll('/run/tsinetd.pid', d.pidfile),
      { mode: 0o644 },
    );
    const echoOnce = async (text: string): Promise<void> => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.end(text);
      let got = '';
      s.setEncoding('utf8').on('data', (data: string) => (got += data));
      await withTimeout(new Promise((resolve) => s.on('close', resolve)), 5000, 'echo');
      assert.equal(got, text);
    };
    await echoOnce('before');
    await d.waitForServiceLog(/EXIT: echo-stream /);

    // An administrator in the middle of an edit: the service's new definition is broken.
    d.rewrite([{ name: 'echo', attrs: { ...echo.attrs, instances: 'lots' } }]);
    const r = await logrotate(['-f', '-s', join(d.dir, 'logrotate.state'), config]);
    assert.equal(r.code, 0, r.out);
    // The reload's complaint, and the line of the next client, are in the new files.
    await d.waitForDaemonLog(/ERROR: service echo-stream: the new definition is not used, the previous one stays in service: .*bad value for 'instances'/);
    await echoOnce('after');
    await d.waitForServiceLog(/EXIT: echo-stream /);
    assert.equal(count(d.serviceLog().split('\n'), /: START: /), 1, 'the new service log has the later client only');
    assert.equal(count(readFileSync(join(d.dir, 'services.log.1'), 'utf8').split('\n'), /: START: /), 1, 'the renamed one has the earlier client');
    assert.match(readFileSync(join(d.dir, 'daemon.log.1'), 'utf8'), /NOTICE: Starting reconfiguration\n$/);
  },
);
