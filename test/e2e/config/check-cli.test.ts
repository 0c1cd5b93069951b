// The built CLI as a real process: `tsinetd --check -f FILE` and `--dump -f FILE` — exit codes
// (0 no error, 1 configuration errors, 2 usage), `file:line:col: severity: message` lines on
// stderr (compared with fixtures/conf/bad/*.expected), and the shape of the JSON dump.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asTestUser, runCli, type CliRun } from '../../helpers/daemon.js';
import { tempDir } from '../../helpers/temp.js';
import { DIAGNOSTIC_CODES } from '../../../src/diagnostic-codes.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BAD_FIXTURES = join(REPO_ROOT, 'fixtures', 'conf', 'bad');
const GOOD_FIXTURE = join(REPO_ROOT, 'fixtures', 'conf', 'xinetd', 'cli', 'good.conf');
// The fixtures name `user = root`: copies name the user running the tests (helpers/daemon.ts).
const COPIES = mkdtempSync(join(tmpdir(), 'tsinetd-check-cli-'));
process.on('exit', () => rmSync(COPIES, { recursive: true, force: true }));
const GOOD = asTestUser(GOOD_FIXTURE, COPIES);
const BAD = join(COPIES, 'bad');
mkdirSync(BAD);
for (const f of readdirSync(BAD_FIXTURES)) asTestUser(join(BAD_FIXTURES, f), BAD);

const cli = (args: string[], cwd = REPO_ROOT): Promise<CliRun> => runCli(args, { cwd });

const SUMMARY = /^tsinetd: \d+ services? \(\d+ enabled\), (\d+) errors?, (\d+) warnings?$/;

test('--check on a good configuration: exit 0 and only the summary line', async () => {
  const r = await cli(['--check', '-f', GOOD]);
  assert.equal(r.stderr, 'tsinetd: 3 services (2 enabled), 0 errors, 0 warnings\n');
  assert.equal(r.stdout, '');
  assert.equal(r.code, 0);
});

const badFiles = readdirSync(BAD)
  .filter((f) => f.endsWith('.conf'))
  .sort();

test('the bad fixtures are there', () => {
  assert.ok(badFiles.length >= 3, `expected fixtures in ${BAD}`);
});

for (const file of badFiles) {
  test(`--check ${file}: exit 1 and exactly the expected diagnostics`, async () => {
    const expected = readFileSync(join(BAD, file.replace(/\.conf$/, '.expected')), 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    const r = await cli(['--check', '-f', file], BAD);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    const summary = lines.pop() ?? '';
    assert.deepEqual(lines, expected);
    const m = SUMMARY.exec(summary);
    assert.ok(m, `summary line: ${summary}`);
    assert.equal(Number(m[1]), expected.filter((l) => / error: /.test(l)).length);
    assert.equal(Number(m[2]), expected.filter((l) => / warning: /.test(l)).length);
    for (const l of lines) {
      assert.match(l, /^[^:]+\.conf:\d+:\d+: (error|warning|note): \S.* \[[a-z-]+\]$/);
      const code = / \[([a-z-]+)\]$/.exec(l)![1]!;
      assert.ok(code in DIAGNOSTIC_CODES, `${code} is in the catalogue`);
    }
    assert.equal(r.code, 1);
  });
}

test('--check on a missing file: one located error, exit 1, no stack trace', async () => {
  const r = await cli(['--check', '-f', '/nonexistent/xinetd.conf']);
  assert.equal(
    r.stderr,
    '/nonexistent/xinetd.conf:1:1: error: cannot read the configuration file /nonexistent/xinetd.conf: no such file or directory [unreadable-file]\n' +
      'tsinetd: 0 services (0 enabled), 1 error, 0 warnings\n',
  );
  assert.equal(r.code, 1);
});

test('usage errors exit 2', async () => {
  const both = await cli(['--check', '--dump', '-f', GOOD]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--check and --dump cannot be used together/);
  const missing = await cli(['--check', '-f']);
  assert.equal(missing.code, 2);
});

test('--dump: the service table and diagnostics as JSON, exit 0', async () => {
  const r = await cli(['--dump', '-f', GOOD]);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, '');
  const json = JSON.parse(r.stdout) as { services: Record<string, unknown>[]; diagnostics: unknown[] };
  assert.deepEqual(json.diagnostics, []);
  assert.deepEqual(
    json.services.map((s) => [s['id'], s['enabled']]),
    [
      ['echo-stream', true],
      ['shell-date', true],
      ['old', false],
    ],
  );
  const shell = json.services[1]!;
  for (const key of [
    'name',
    'problems',
    'dialect',
    'socket_type',
    'protocol',
    'port',
    'wait',
    'user',
    'server',
    'server_argv',
    'type',
    'flags',
    'only_from',
    'cps',
    'per_source_cps',
    'log_type',
    'source',
  ]) {
    assert.ok(key in shell, `service field ${key}`);
  }
  assert.deepEqual(
    [
      shell['port'],
      shell['server'],
      shell['server_argv'],
      shell['only_from'],
      shell['cps'],
      shell['per_source_cps'],
      shell['instances'],
      shell['log_on_success'],
    ],
    [17013, '/bin/sh', ['sh', '-c', 'date'], ['127.0.0.0/8', '::1'], [50, 10], [5, 10], 30, ['PID', 'HOST', 'DURATION']],
  );
  assert.deepEqual(shell['log_type'], { kind: 'syslog', facility: 'daemon', level: 'info' });
  assert.deepEqual(shell['source'], { file: GOOD, line: 20 });
});

test('--dump with errors: exit 1, located diagnostics in the JSON', async () => {
  const r = await cli(['--dump', '-f', 'values.conf'], BAD);
  assert.equal(r.code, 1);
  const json = JSON.parse(r.stdout) as { services: { id: string; enabled: boolean }[]; diagnostics: Record<string, unknown>[] };
  assert.equal(json.services.length, 5);
  assert.ok(json.services.every((s) => !s.enabled));
  assert.deepEqual(json.diagnostics[0], {
    severity: 'error',
    code: 'bad-value',
    file: 'values.conf',
    line: 7,
    column: 10,
    message: "bad value for 'port': port 70000 is out of range (0-65535); service 'echo' is disabled, as xinetd does",
  });
});

test('--check says how each inetd.conf was read; --dialect gnu reads `.N` as GNU inetutils counts it', async (t) => {
  const file = join(REPO_ROOT, 'fixtures', 'conf', 'convert', 'inetd.conf');
  const empty = join(tempDir(t, 'check-dialect'), 'empty.conf');
  writeFileSync(empty, '');
  const auto = await cli(['--check', '-f', empty, '--inetd', file]);
  assert.match(
    auto.stderr,
    new RegExp(`^tsinetd: ${file}: read as OpenBSD/Linux inetd\\.conf: the N-th start within 60 s .* \\(default 256\\); .*--dialect gnu$`, 'm'),
  );
  const gnu = await cli(['--check', '-f', empty, '--inetd', file, '--dialect', 'gnu']);
  assert.match(
    gnu.stderr,
    new RegExp(`^tsinetd: ${file}: read as GNU inetutils inetd\\.conf: \`\\.N\` serves N starts .* \\(default and ceiling 1000\\)`, 'm'),
  );
  const dump = await cli(['--dump', '-f', empty, '--inetd', file, '--dialect', 'gnu']);
  const finger = (JSON.parse(dump.stdout) as { services: Array<{ id: string; inetd_rate: unknown }> }).services.find((s) => s.id === 'finger');
  assert.deepEqual(finger?.inetd_rate, { flavour: 'gnu', max: 40, written: true, per_seconds: 60, shutdown_seconds: 600 });
  const usage = await cli(['--check', '-f', empty, '--dialect', 'gnu']);
  assert.equal(usage.code, 2, 'without an inetd.conf to read, --dialect is a usage error');
});

test(
  '--inetd without -f on a machine without /etc/xinetd.conf: only the inetd.conf is read, exit 0; -f names a missing file: an error',
  { skip: existsSync('/etc/xinetd.conf') ? 'this machine has /etc/xinetd.conf' : false },
  async (t) => {
    const dir = tempDir(t, 'inetd-only');
    const conf = join(dir, 'inetd.conf');
    writeFileSync(conf, `${join(dir, 'a.sock')}\tstream\tunix\tnowait\troot\t/bin/cat\tcat\n`);
    const alone = await runCli(['--check', '--inetd', conf, '--dialect', 'openbsd']);
    assert.equal(alone.code, 0, alone.stderr);
    assert.doesNotMatch(alone.stderr, /xinetd\.conf/);
    assert.match(alone.stderr, /1 services? \(1 enabled\), 0 errors/);
    const named = await runCli(['--check', '-f', '/etc/xinetd.conf', '--inetd', conf, '--dialect', 'openbsd']);
    assert.equal(named.code, 1);
    assert.match(named.stderr, /^\/etc\/xinetd\.conf:1:1: error: cannot read the configuration file/m);
  },
);
