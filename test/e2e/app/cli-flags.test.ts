// Every flag of xinetd(8)'s command line, and tsinetd's own long options, tried on the built CLI
// started as one starts xinetd: -version, --help, usage errors, -f, -d, -dontfork/-stayalive,
// -pidfile, -filelog, -syslog (valid and unknown facilities), -limit, -logprocs with USERID
// lookups against a fake identd, -cc and SIGABRT, --log-format json, the compatibility no-ops,
// and --check reporting what the spawner and the server cannot do. (-inetd_compat is served in
// inetd-serve-cli.test.ts; --check/--dump output in check-cli.test.ts; daemonizing in
// serve-daemon.test.ts.)

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { CLI, FIXTURES, internalService, programService, renderConfig, runCli, startDaemon, TEST_USER } from '../../helpers/daemon.js';
import { closed, freePort, readUntil, tcpConnect, tcpRequest, waitFor, withTimeout } from '../../helpers/net.js';
import { tempDir } from '../../helpers/temp.js';
import { collectDatagrams, syslogUnavailable } from '../../helpers/unix-dgram.js';
import { startIdentd, type Identd } from '../../helpers/identd.js';
import { usableHelper } from '../../helpers/spawnd.js';
import { MESSAGE_CODES, type MessageCode } from '../../../src/message-codes.js';

/** A long-running CLI process whose stderr is collected; SIGKILLed at the end of the test. */
const run = runCli;

function background(
  t: TestContext,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, stderr: () => err, exited };
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

// ---- a fake identd (RFC 1413) ------------------------------------------------------------

interface FakeIdentd extends Identd {
  /** Answers the queries held so far (mode 'hold'), and every later one at once. */
  release(): void;
}

/** 'ok': answers "<query> : USERID : UNIX : alice"; 'error': an ERROR reply; 'hold': answers on release(). */
async function fakeIdentd(t: TestContext, mode: 'ok' | 'error' | 'hold'): Promise<FakeIdentd> {
  const held: Array<() => void> = [];
  let released = mode !== 'hold';
  const identd = await startIdentd(t, (q, reply) => {
    const answer = (): void => reply(mode === 'error' ? `${q} : ERROR : NO-USER\r\n` : `${q.replace(/\s/g, '')} : USERID : UNIX : alice\r\n`);
    if (released) answer();
    else held.push(answer);
  });
  return {
    ...identd,
    release: () => {
      released = true;
      for (const f of held.splice(0)) f();
    },
  };
}

// ---- the tests ---------------------------------------------------------------------------

describe('information and usage', () => {
  test('-version (and --version): prints the version and the spawner on stdout, exit 0', async () => {
    const helper = usableHelper();
    // The daemon's own choice, whatever spawner this run of the tests asks for (CI runs them
    // with TSINETD_SPAWNER=node too); the forced choice is checked below.
    const { TSINETD_SPAWNER: _, ...chosen } = process.env;
    for (const flag of ['-version', '--version']) {
      const r = await run([flag], { env: chosen });
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^tsinetd \d+\.\d+\.\d+\S* \(xinetd-compatible\)\n/);
      const spawner = r.stdout.split('\n')[1] ?? '';
      if (helper !== null)
        assert.ok(spawner.startsWith(`spawner: native, helper ${helper} (`) && /; protocol \d+; linux-\w+ (static|dynamic) /.test(spawner), spawner);
      else assert.match(spawner, /^spawner: node \(no usable helper: /);
      assert.equal(r.stderr, '');
    }
    const forced = await run(['-version'], { env: { ...process.env, TSINETD_SPAWNER: 'node' } });
    assert.equal(forced.stdout.split('\n')[1], 'spawner: node (TSINETD_SPAWNER=node)');
  });

  test('--help lists every xinetd flag, spelled with one dash', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    for (const f of ['-f', '-d', 'dontfork', 'stayalive', 'pidfile', 'filelog', 'syslog', 'limit', 'logprocs', 'cc', 'inetd_compat', 'version']) {
      assert.ok(r.stdout.includes(f), `--help mentions ${f}`);
    }
    for (const f of ['--check', '--dump', '--inetd', '--log-format']) assert.ok(r.stdout.includes(f), `--help mentions ${f}`);
  });

  test('usage errors exit 2 with a message and no stack trace', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['-limit', 'abc'], /-limit expects a non-negative integer, got 'abc'/],
      [['-logprocs', '-3'], /-logprocs expects a non-negative integer/],
      [['-cc', 'soon'], /-cc expects a non-negative integer, got 'soon'/],
      [['-pidfile'], /argument missing|missing/i],
      [['--no-such-flag'], /unknown option/i],
      [['--log-format', 'xml'], /xml/],
      [['--check', '--dump'], /cannot be used together/],
      [['-f', '/etc/xinetd.conf', 'extra'], /too many arguments|unexpected|excess/i],
    ];
    for (const [args, re] of cases) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  test('-reuse, -shutdownprocs N and -inetd_ipv6 are accepted for compatibility', async (t) => {
    const dir = tempDir(t, 'flags');
    const conf = join(dir, 'xinetd.conf');
    writeFileSync(conf, renderConfig([internalService('echo', 17007, 'stream')], {}));
    const r = await run(['--check', '-f', conf, '-reuse', '-shutdownprocs', '4', '-inetd_ipv6']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /1 service \(1 enabled\), 0 errors, 0 warnings/);
  });
});

describe('running in the foreground', () => {
  test('-f FILE -dontfork -filelog FILE -pidfile FILE: serves, logs to the file, pid file written then removed', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [internalService('echo', port, 'stream')] });
    assert.equal(Number(read(d.pidfile).trim()), d.pid);
    assert.equal(d.pid, d.child.pid, '-dontfork: the process started is the daemon');
    await d.waitForDaemonLog(/^\d\d\/\d+\/\d+@\d\d:\d\d:\d\d xinetd\[\d+\]: NOTICE: Started working: 1 available service$/);
    const reply = await tcpRequest({ port, send: 'ping\n' });
    assert.equal(reply.data.toString(), 'ping\n');
    assert.deepEqual(await d.stop('SIGTERM'), { code: 0, signal: null });
    assert.equal(existsSync(d.pidfile), false);
  });

  test('-d: foreground, daemon messages (debug ones too) on stderr in xinetd terminal form, -filelog unused', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [internalService('echo', port, 'stream')], args: ['-d'], dontfork: false });
    assert.equal(d.pid, d.child.pid, '-d does not daemonize');
    await waitFor(
      () => (/NOTICE: \d+ \{main\} Started working: 1 available service/.test(d.stderr()) ? true : undefined),
      5000,
      `Started working on stderr\n${d.stderr()}`,
    );
    assert.match(d.stderr(), /^\d\d\/\d+\/\d+@\d\d:\d\d:\d\d: DEBUG: \d+ \{activate_normal\} service echo-stream: listening on port \d+ \[listening\]$/m);
    assert.equal(d.daemonLog(), '', 'debug mode writes daemon messages to the terminal only (xinetd)');
  });

  test('-dontfork implies -stayalive: no service at all, still running', async (t) => {
    const dir = tempDir(t, 'flags');
    const conf = join(dir, 'empty.conf');
    writeFileSync(conf, 'defaults\n{\n}\n');
    const p = background(t, ['-dontfork', '-f', conf]);
    await waitFor(() => (/Started working: 0 available services/.test(p.stderr()) ? true : undefined), 8000, `Started working\n${p.stderr()}`);
    assert.equal(p.child.exitCode, null);
    p.child.kill('SIGTERM');
    assert.equal(await withTimeout(p.exited, 5000, 'exit on SIGTERM'), 0);
  });

  test('without -stayalive (-d alone) no service means exit 1 "no services. Exiting..."; -stayalive keeps it running', async (t) => {
    const dir = tempDir(t, 'flags');
    const conf = join(dir, 'empty.conf');
    writeFileSync(conf, 'defaults\n{\n}\n');
    const r = await run(['-d', '-f', conf]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERROR: \d+ \{init_services\} no services\. Exiting\.\.\./);

    const p = background(t, ['-d', '-stayalive', '-f', conf]);
    await waitFor(() => (/Started working: 0 available services/.test(p.stderr()) ? true : undefined), 8000, `Started working\n${p.stderr()}`);
    p.child.kill('SIGTERM');
    assert.equal(await withTimeout(p.exited, 5000, 'exit on SIGTERM'), 0);
  });
});

describe('-syslog FACILITY', () => {
  const skip = syslogUnavailable();

  test('daemon messages go to syslog with that facility; an unknown one is reported and daemon is used (as xinetd)', { skip }, async (t) => {
    const dir = tempDir(t, 'flags');
    const sock = join(dir, 'log.sock');
    const messages = await collectDatagrams(t, sock);
    const port = await freePort();
    const conf = join(dir, 'xinetd.conf');
    writeFileSync(conf, renderConfig([internalService('echo', port, 'stream')], {}));
    const env = { ...process.env, TSINETD_SYSLOG_SOCKET: sock };

    const a = background(t, ['-dontfork', '-f', conf, '-syslog', 'local3'], env);
    // local3 (19) * 8 + notice (5) = 157
    await waitFor(
      () => messages.find((m) => /^<157>.*xinetd\[\d+\]: Started working: 1 available service$/.test(m)),
      8000,
      `local3 notice\n${messages.join('\n')}`,
    );
    a.child.kill('SIGTERM');
    assert.equal(await withTimeout(a.exited, 5000, 'exit'), 0);

    messages.length = 0;
    const b = background(t, ['-dontfork', '-f', conf, '-syslog', 'bogus'], env);
    // daemon (3) * 8 + err (3) = 27; notice: 29
    await waitFor(() => messages.find((m) => /^<27>.*: Bad syslog facility: bogus$/.test(m)), 8000, `the bad facility error\n${messages.join('\n')}`);
    await waitFor(() => messages.find((m) => /^<29>.*: Started working: 1 available service$/.test(m)), 8000, 'daemon notice');
    b.child.kill('SIGTERM');
    assert.equal(await withTimeout(b.exited, 5000, 'exit'), 0);

    const c = await run(['--check', '-f', conf, '-syslog', 'bogus']);
    assert.equal(c.code, 0);
    assert.match(c.stderr, /warning: -syslog bogus: not a syslog facility/);
  });
});

describe('limits', () => {
  test('-limit N: a client beyond N running servers gets FAIL process_limit', async (t) => {
    const [a, b] = [await freePort(), await freePort()];
    const d = await startDaemon(t, {
      services: [programService('sleepa', a, join(FIXTURES, 'sleeper')), programService('sleepb', b, join(FIXTURES, 'sleeper'))],
      args: ['-limit', '1'],
    });
    const first = await tcpConnect(a);
    t.after(() => first.destroy());
    await readUntil(first, /started pid=\d+/);
    const second = await tcpRequest({ port: b, timeoutMs: 3000 });
    assert.equal(second.data.toString(), '', 'no server for the second client');
    await d.waitForServiceLog(/FAIL: sleepb process_limit from=::ffff:127\.0\.0\.1$/);
  });
});

describe('USERID and -logprocs', () => {
  test("log_on_success USERID: the client's identd is asked before the server starts; USERID follows START", async (t) => {
    const identd = await fakeIdentd(t, 'ok');
    const port = await freePort();
    const d = await startDaemon(t, {
      services: [internalService('echo', port, 'stream', { log_on_success: 'PID HOST USERID EXIT' })],
      env: { ...process.env, TSINETD_IDENT_PORT: String(identd.port) },
    });
    const client = await tcpConnect(port);
    t.after(() => client.destroy());
    client.write('hello\n');
    await readUntil(client, /hello\n/);
    assert.equal(identd.queries.length, 1);
    assert.equal(identd.queries[0], `${client.localPort},${port}`, 'query: client port, then our port (RFC 1413)');
    client.end();
    await d.waitForServiceLog(/EXIT: echo-stream/);
    const lines = d
      .serviceLog()
      .trim()
      .split('\n')
      .map((l) => l.replace(/^\S+: /, ''));
    assert.deepEqual(lines, ['START: echo-stream pid=0 from=::ffff:127.0.0.1', 'USERID: echo-stream UNIX : alice', 'EXIT: echo-stream status=0 pid=0']);
  });

  test('an identd ERROR reply is logged as xinetd does ("Bad line received"), the server still starts', async (t) => {
    const identd = await fakeIdentd(t, 'error');
    const port = await freePort();
    const d = await startDaemon(t, {
      services: [internalService('echo', port, 'stream', { log_on_success: 'PID HOST USERID' })],
      env: { ...process.env, TSINETD_IDENT_PORT: String(identd.port) },
    });
    const reply = await tcpRequest({ port, send: 'x\n' });
    assert.equal(reply.data.toString(), 'x\n');
    await d.waitForDaemonLog(/ERROR: Bad line received from identity server at ::ffff:127\.0\.0\.1: \d+,\d+ : ERROR : NO-USER$/);
    assert.doesNotMatch(d.serviceLog(), /USERID:/);
  });

  test('flags = IDONLY: a client that cannot be identified gets no server (NOID)', async (t) => {
    const port = await freePort();
    const unused = await freePort(); // nothing listens there: "no server"
    const d = await startDaemon(t, {
      services: [internalService('echo', port, 'stream', { log_on_success: 'PID HOST USERID', flags: 'IDONLY' })],
      env: { ...process.env, TSINETD_IDENT_PORT: String(unused) },
    });
    const reply = await tcpRequest({ port, send: 'x\n' });
    assert.equal(reply.data.toString(), '', 'closed without service');
    await d.waitForDaemonLog(/NOID: echo-stream ::ffff:127\.0\.0\.1 no server$/);
    assert.doesNotMatch(d.serviceLog(), /START:/);
  });

  test('log_on_failure USERID: refused clients are looked up after FAIL, at most -logprocs at a time', async (t) => {
    const identd = await fakeIdentd(t, 'hold');
    const port = await freePort();
    const d = await startDaemon(t, {
      services: [programService('lim', port, join(FIXTURES, 'sleeper'), { instances: '1', log_on_failure: 'HOST USERID' })],
      args: ['-logprocs', '1'],
      env: { ...process.env, TSINETD_IDENT_PORT: String(identd.port) },
    });
    const busy = await tcpConnect(port);
    t.after(() => busy.destroy());
    await readUntil(busy, /started pid=\d+/);

    const held = await tcpConnect(port);
    t.after(() => held.destroy());
    await waitFor(() => (identd.queries.length === 1 ? true : undefined), 5000, 'the first lookup');
    const skipped = await tcpConnect(port);
    t.after(() => skipped.destroy());
    await closed(skipped, 3000); // no lookup slot left: closed at once
    assert.equal(identd.queries.length, 1, '-logprocs 1: one lookup at a time');
    assert.equal(held.destroyed, false, 'the looked-up client stays connected during the lookup');

    identd.release();
    await closed(held, 3000);
    await d.waitForServiceLog(/USERID: lim UNIX : alice$/);
    const lines = d
      .serviceLog()
      .trim()
      .split('\n')
      .map((l) => l.replace(/^\S+: /, ''));
    const fails = lines.filter((l) => l.startsWith('FAIL:'));
    assert.deepEqual(fails, ['FAIL: lim service_limit from=::ffff:127.0.0.1', 'FAIL: lim service_limit from=::ffff:127.0.0.1']);
    assert.ok(lines.indexOf('USERID: lim UNIX : alice') > lines.indexOf(fails[0]!), 'USERID comes after the FAIL line');
  });
});

describe('consistency checks', () => {
  test('SIGABRT (SIGIOT): one check, "Consistency check passed"; -cc N checks silently unless -d', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [programService('sleeps', port, join(FIXTURES, 'sleeper'))], args: ['-cc', '1'] });
    const client = await tcpConnect(port);
    t.after(() => client.destroy());
    await readUntil(client, /started pid=\d+/);
    await new Promise((r) => setTimeout(r, 1500)); // at least one periodic check has run
    assert.doesNotMatch(d.daemonLog(), /Consistency check/, 'a periodic check that passes is silent (xinetd)');
    d.signal('SIGABRT');
    await d.waitForDaemonLog(/xinetd\[\d+\]: INFO: Consistency check passed$/);
    assert.equal(d.exitedStatus, null, 'SIGABRT does not stop the daemon');

    const port2 = await freePort();
    const dbg = await startDaemon(t, { services: [internalService('echo', port2, 'stream')], args: ['-d', '-cc', '1'] });
    await waitFor(
      () => (/INFO: \d+ \{consistency_check\} Consistency check passed/.test(dbg.stderr()) ? true : undefined),
      5000,
      `periodic check in debug mode\n${dbg.stderr()}`,
    );
  });
});

describe('--log-format json', () => {
  test('daemon and service lines are JSON objects, one per line', async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [internalService('echo', port, 'stream')], args: ['--log-format', 'json'] });
    const started = JSON.parse(await d.waitForDaemonLog(/Started working/)) as Record<string, unknown>;
    assert.equal(started['message'], 'Started working: 1 available service');
    assert.equal(started['level'], 'notice');
    assert.equal(started['code'], 'started-working');
    await tcpRequest({ port, send: 'x' });
    const start = JSON.parse(await d.waitForServiceLog(/"START"/)) as Record<string, unknown>;
    assert.equal(start['service'], 'echo-stream');
    assert.equal(start['event'], 'START');
    assert.equal('code' in start, false, 'service lines carry no code');
    // Every daemon line has the code of its class (message-codes.ts), at a level of its row.
    const daemonLines = d
      .daemonLog()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const o of daemonLines) {
      const row = Object.hasOwn(MESSAGE_CODES, String(o['code'])) ? MESSAGE_CODES[o['code'] as MessageCode] : undefined;
      assert.ok(row !== undefined && (row.levels as readonly string[]).includes(String(o['level'])), JSON.stringify(o));
    }
    assert.ok(
      daemonLines.some((o) => o['code'] === 'started'),
      'the start-up line has its code',
    );
  });
});

describe('--check reports what this run cannot do', () => {
  test('attributes the spawner cannot apply and serving limitations, as warnings at the service line', async (t) => {
    const dir = tempDir(t, 'flags');
    const conf = join(dir, 'xinetd.conf');
    writeFileSync(
      conf,
      [
        'service limited',
        '{',
        '\ttype = UNLISTED',
        '\tport = 17099',
        '\tsocket_type = stream',
        '\twait = no',
        `\tuser = ${TEST_USER}`,
        '\tserver = /bin/cat',
        '\trlimit_cpu = 10',
        '}',
        'service udpprog',
        '{',
        '\ttype = UNLISTED',
        '\tport = 17098',
        '\tsocket_type = dgram',
        '\tprotocol = udp',
        '\twait = yes',
        `\tuser = ${TEST_USER}`,
        '\tserver = /bin/cat',
        '\tonly_from = 127.0.0.1',
        '}',
        '',
      ].join('\n'),
    );
    const r = await run(['--check', '-f', conf], { env: { ...process.env, TSINETD_SPAWNER: 'node' } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.stderr.includes(
        `${conf}:1:1: warning: service limited: rlimit_cpu cannot be applied by the node spawner [versus xinetd: tsinetd restricts the server less] [limitation]\n`,
      ),
      r.stderr,
    );
    assert.ok(
      r.stderr.includes(
        `${conf}:11:1: warning: service udpprog: the sender of a datagram cannot be learnt by the node spawner ` +
          '(only the spawn helper can peek at it): only_from need(s) it, so datagrams are refused and dropped [versus xinetd: tsinetd admits less] [limitation]\n',
      ),
      r.stderr,
    );
    assert.match(r.stderr, /2 services \(2 enabled\), 0 errors, 2 warnings\n$/);
    // With the helper, the sender is learnt: only the rlimit warning is left.
    if (usableHelper() !== null) {
      const native = await run(['--check', '-f', conf], { env: { ...process.env, TSINETD_SPAWNER: 'native' } });
      assert.equal(native.code, 0, native.stderr);
      assert.ok(!native.stderr.includes('udpprog'), native.stderr);
      assert.match(native.stderr, /2 services \(2 enabled\), 0 errors, 0 warnings\n$/);
    }
  });

  test('a wait = yes stream service: only_from refuses every client (the address is never known), said at its service line', async (t) => {
    const dir = tempDir(t, 'flags');
    const conf = join(dir, 'xinetd.conf');
    writeFileSync(
      conf,
      [
        'service tcpwait',
        '{',
        '\ttype = UNLISTED',
        '\tport = 17097',
        '\tsocket_type = stream',
        '\twait = yes',
        `\tuser = ${TEST_USER}`,
        '\tserver = /bin/cat',
        '\tonly_from = 127.0.0.1',
        '}',
        '',
      ].join('\n'),
    );
    const r = await run(['--check', '-f', conf]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.stderr.includes(`${conf}:1:1: warning: service tcpwait: only_from refuses every client of a wait = yes stream service: its server accepts`),
      r.stderr,
    );
  });
});
