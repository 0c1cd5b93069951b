import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main, normalizeArgv, parseCommandLine, type CliIo } from '../../../src/app/cli.js';
import { loadRequestOf } from '../../../src/app/options.js';
import { tempDir } from '../../helpers/temp.js';

function capture(stderrIsTty = false): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stderrIsTty,
    stdout: (s: string) => {
      io.out += s;
    },
    stderr: (s: string) => {
      io.err += s;
    },
  };
  return io;
}

test('single-dash xinetd flags become long options', () => {
  assert.deepEqual(normalizeArgv(['-dontfork', '-f', 'x.conf', '-filelog', 'l', '-d', '-inetd_compat']), [
    '--dontfork',
    '-f',
    'x.conf',
    '--filelog',
    'l',
    '-d',
    '--inetd_compat',
  ]);
  assert.deepEqual(normalizeArgv(['--', '-dontfork']), ['--', '-dontfork']);
});

test('xinetd command line parses into options', () => {
  const io = capture();
  const { action, options } = parseCommandLine(
    ['-dontfork', '-f', 'a.conf', '-filelog', 'log', '-pidfile', 'pid', '-limit', '7', '-syslog', 'daemon', '-cc', '30', '-logprocs', '3'],
    io,
  );
  assert.equal(action.kind, 'serve');
  assert.equal(options.configFile, 'a.conf');
  assert.equal(options.dontfork, true);
  assert.equal(options.stayalive, true);
  assert.equal(options.filelog, 'log');
  assert.equal(options.pidfile, 'pid');
  assert.equal(options.limit, 7);
  assert.equal(options.syslog, 'daemon');
  assert.equal(options.cc, 30);
  assert.equal(options.logprocs, 3);
});

test("-d implies foreground; defaults are xinetd's", () => {
  const { options } = parseCommandLine(['-d'], capture());
  assert.equal(options.debug, true);
  assert.equal(options.dontfork, true);
  const def = parseCommandLine([], capture()).options;
  assert.equal(def.configFile, '/etc/xinetd.conf');
  assert.equal(def.dontfork, false);
  assert.equal(def.dumpFile, '/var/run/xinetd.dump');
});

test('usage errors exit 2, version and help exit 0', async () => {
  let io = capture();
  assert.equal(await main(['-limit', 'abc'], io), 2);
  assert.match(io.err, /-limit expects a non-negative integer/);
  io = capture();
  assert.equal(await main(['--no-such-flag'], io), 2);
  io = capture();
  assert.equal(await main(['--check', '--dump'], io), 2);
  io = capture();
  assert.equal(await main(['-version'], io), 0);
  assert.match(io.out, /^tsinetd \d+\.\d+\.\d+/);
  io = capture();
  assert.equal(await main(['--help'], io), 0);
  assert.match(io.out, /--check/);
});

test('--check diagnostics: on a terminal coloured, with the offending line and a caret; otherwise plain', async (t) => {
  const file = join(tempDir(t, 'cli-diag'), 'x.conf');
  writeFileSync(file, 'service foo\n{\n\tsocket_type = strem\n\tprotocol = tcp\n\twait = no\n\tuser = nobody\n\tserver = /bin/cat\n}\n');
  const plain = capture();
  assert.equal(await main(['--check', '-f', file], plain), 1);
  assert.match(plain.err, new RegExp(`^${file}:3:16: error: unknown socket type 'strem'.*\\[unknown-value\\]\n`));
  /* eslint-disable no-control-regex -- the terminal's colour escapes are what is checked */
  assert.doesNotMatch(plain.err, /\x1b\[|socket_type = strem/);
  const tty = capture(true);
  assert.equal(await main(['--check', '-f', file], tty), 1);
  assert.match(tty.err, /\x1b\[/);
  assert.match(tty.err, /\n {2}\tsocket_type = strem\n {2}\t {14}\x1b\[[0-9;]*m\^~~~~\x1b\[/);
  /* eslint-enable no-control-regex */
});

test('--inetd is repeatable and -inetd_compat adds /etc/inetd.conf, when it exists (one decision for --check and the daemon)', () => {
  const { options } = parseCommandLine(['--inetd', 'a', '--inetd', 'b', '-inetd_compat'], capture());
  assert.deepEqual(options.inetdFiles, ['a', 'b']);
  assert.equal(options.inetdCompat, true);
  const asked: string[] = [];
  const present = loadRequestOf(options, (p) => (asked.push(p), true));
  assert.deepEqual(asked, ['/etc/inetd.conf']);
  assert.deepEqual(present, {
    configFile: '/etc/xinetd.conf',
    inetdFiles: ['a', 'b', '/etc/inetd.conf'],
    inetdDialect: 'auto',
    inetdCompatFile: '/etc/inetd.conf',
  });
  // Absent: skipped, as xinetd skips it; the --inetd files are read (and reported) whether or not they exist.
  assert.deepEqual(
    loadRequestOf(options, () => false),
    { configFile: '/etc/xinetd.conf', inetdFiles: ['a', 'b'], inetdDialect: 'auto' },
  );
  const plain = parseCommandLine(['--inetd', 'a'], capture()).options;
  assert.deepEqual(loadRequestOf(plain, () => true).inetdFiles, ['a']);
});

test("--inetd without -f replaces an inetd: an absent default /etc/xinetd.conf is not read; with -f or -inetd_compat it is, as xinetd's", () => {
  const absent = (): boolean => false;
  const inetdOnly = parseCommandLine(['--inetd', 'a'], capture()).options;
  assert.equal(inetdOnly.configFileGiven, false);
  assert.equal(loadRequestOf(inetdOnly, absent).configFile, null);
  assert.equal(loadRequestOf(inetdOnly, () => true).configFile, '/etc/xinetd.conf', 'present: read as before');
  const named = parseCommandLine(['-f', '/etc/xinetd.conf', '--inetd', 'a'], capture()).options;
  assert.equal(named.configFileGiven, true);
  assert.equal(loadRequestOf(named, absent).configFile, '/etc/xinetd.conf', 'named by -f: its absence is an error');
  assert.equal(loadRequestOf(parseCommandLine(['--inetd', 'a', '-inetd_compat'], capture()).options, absent).configFile, '/etc/xinetd.conf');
  assert.equal(loadRequestOf(parseCommandLine([], capture()).options, absent).configFile, '/etc/xinetd.conf', 'xinetd alone');
});
