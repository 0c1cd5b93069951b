// `tsinetd --convert`: the real CLI on the fixtures of fixtures/conf/convert/ (golden stdout and
// stderr, output directory mode, exit codes), the converted files loaded back by tsinetd itself
// (`--dump` of the conversion equals `--dump --inetd` of the original), the shared corpus of real
// inetd.conf files (../shared/corpus/inetd/) converted and read back service by service, and the
// converted corpus given to the real xinetd (/opt/xinetd-ref, in a private network namespace so
// that it binds nothing outside) to check that it reads every file without a configuration error.
//
// Documented differences between a Service read from inetd.conf and the same service read from
// its converted file (everything else must be equal):
//   - dialect and source (which language and file it was read from), and the wording of problems;
//   - inetd_rate and per_source_per_minute: xinetd has no such attribute (a comment in the block);
//   - flags: NAMEINARGS is written only where argv[0] needs it (server_argv itself is compared);
//   - type: UNLISTED is added where /etc/services does not list the name (numeric services).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommandLine, type CliIo } from '../../../src/app/cli.js';
import { loadXinetdConfig } from '../../../src/config/config.js';
import { convertInetdFile, xinetdFileName } from '../../../src/convert/convert.js';
import type { Service } from '../../../src/table.js';
import { CLI, notRootWarnings, ROOT } from '../../helpers/daemon.js';
import { waitFor, withTimeout } from '../../helpers/net.js';
import { tempDir } from '../../helpers/temp.js';

const FIXTURES = join(ROOT, 'fixtures', 'conf', 'convert');
const FIXTURE = 'fixtures/conf/convert/inetd.conf'; // relative: it is part of the golden output
const CORPUS = join(ROOT, '..', 'shared', 'corpus', 'inetd');
const NO_CORPUS = existsSync(CORPUS) ? false : `shared corpus not found at ${CORPUS} (it lives beside the repository)`;
const XINETD = process.env['TSINETD_XINETD_REF'] ?? '/opt/xinetd-ref/usr/sbin/xinetd';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function tsinetd(args: readonly string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A top-level xinetd.conf that includes the converted directory, as /etc/xinetd.conf does. */
function topConf(dir: string, included: string): string {
  const conf = join(dir, 'xinetd.conf');
  writeFileSync(conf, `defaults\n{\n}\n\nincludedir ${included}\n`);
  return conf;
}

/** The stdout blocks by file name (`# ---- file: NAME ----` separators). */
function blocks(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = stdout.split(/^# ---- file: (\S+) ----\n/m);
  // Blocks are separated by an empty line.
  for (let i = 1; i + 1 < parts.length; i += 2) out.set(parts[i]!, parts[i + 1]!.replace(/\n\n$/, '\n'));
  return out;
}

const IGNORED = new Set(['id', 'dialect', 'source', 'problems', 'inetd_rate', 'per_source_per_minute', 'instances_at_limit']);

/** Field-by-field differences beyond the documented ones; '' when the services agree. */
function differences(original: Service, back: Service): string[] {
  const out: string[] = [];
  const a = original as unknown as Record<string, unknown>;
  const b = back as unknown as Record<string, unknown>;
  for (const key of Object.keys(a)) {
    if (IGNORED.has(key)) continue;
    let x = a[key];
    let y = b[key];
    if ((key === 'v6only' || key === 'family_sockets') && original.family_sockets) {
      // One socket per family (OpenBSD tcp/udp) is written as xinetd's one dual-stack socket.
      x = false;
    } else if (key === 'flags') {
      x = original.flags.filter((f) => f !== 'NAMEINARGS');
      y = back.flags.filter((f) => f !== 'NAMEINARGS');
    } else if (key === 'type') {
      y = back.type.filter((f) => f !== 'UNLISTED' || original.type.includes('UNLISTED'));
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${key}: ${JSON.stringify(x)} became ${JSON.stringify(y)}`);
  }
  if (original.problems.length > 0 !== back.problems.length > 0) {
    out.push(`problems: ${JSON.stringify(original.problems)} became ${JSON.stringify(back.problems)}`);
  }
  return out;
}

// ---- the CLI on the fixtures ----------------------------------------------------------------

test('--convert prints every block and the located diagnostics (golden output), exit 0', () => {
  const r = tsinetd(['--convert', FIXTURE]);
  assert.equal(r.stderr, readFileSync(join(FIXTURES, 'inetd.stderr'), 'utf8'));
  assert.equal(r.stdout, readFileSync(join(FIXTURES, 'inetd.stdout'), 'utf8'));
  assert.equal(r.status, 0);
});

test('`tsinetd convert FILE` is the same as --convert FILE', () => {
  const a = tsinetd(['convert', FIXTURE]);
  assert.equal(a.status, 0);
  assert.equal(a.stdout, readFileSync(join(FIXTURES, 'inetd.stdout'), 'utf8'));
});

test('-o DIR writes one file per service with includedir-safe names; a rerun changes nothing', (t) => {
  const dir = tempDir(t, 'convert');
  const out = join(dir, 'xinetd.d');
  const r = tsinetd(['--convert', FIXTURE, '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /tsinetd: 10 services converted \(10 files in .*xinetd\.d\), 0 errors, 1 warning\n$/);
  const names = readdirSync(out).sort();
  assert.deepEqual(names, ['127-0-0-1-41002-tcp', '127-0-0-2-41002-tcp', '41001-tcp', '41001-tcp6', 'echo-tcp', 'echo-udp', 'finger', 'ftp', 'telnet', 'tftp']);
  for (const n of names) assert.doesNotMatch(n, /\.|~$/, 'xinetd skips such names');
  // Each file is the block printed for it on stdout.
  const printed = blocks(readFileSync(join(FIXTURES, 'inetd.stdout'), 'utf8'));
  assert.deepEqual([...printed.keys()].sort(), names);
  for (const n of names) assert.equal(readFileSync(join(out, n), 'utf8'), printed.get(n), n);
  const again = tsinetd(['--convert', FIXTURE, '--output-dir', out]);
  assert.equal(again.status, 0, again.stderr);
});

test('-o DIR never overwrites a different file: nothing is written, exit 1', (t) => {
  const dir = tempDir(t, 'convert');
  const out = join(dir, 'xinetd.d');
  assert.equal(tsinetd(['--convert', FIXTURE, '-o', out]).status, 0);
  writeFileSync(join(out, 'ftp'), '# edited by hand\n');
  rmSync(join(out, 'tftp'));
  const r = tsinetd(['--convert', FIXTURE, '-o', out]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^fixtures\/conf\/convert\/inetd\.conf:3:1: error: .*xinetd\.d\/ftp already exists with other contents: nothing was written/m);
  assert.equal(readFileSync(join(out, 'ftp'), 'utf8'), '# edited by hand\n');
  assert.equal(existsSync(join(out, 'tftp')), false, 'all or nothing: the missing file is not written either');
});

test('the converted files load in tsinetd with no error and describe the same services', (t) => {
  const dir = tempDir(t, 'convert');
  const out = join(dir, 'xinetd.d');
  assert.equal(tsinetd(['--convert', FIXTURE, '-o', out]).status, 0);
  const conf = topConf(dir, out);
  const check = tsinetd(['--check', '-f', conf]);
  assert.equal(check.status, 0, check.stderr);
  // The services run as root, nobody and daemon: run by another user, --check says it could not switch.
  const warnings = notRootWarnings(check.stderr).length;
  assert.equal(warnings === 0, process.geteuid?.() === 0, check.stderr);
  assert.match(check.stderr, new RegExp(`10 services \\(10 enabled\\), 0 errors, ${warnings} warnings?\n$`));

  const empty = join(dir, 'empty.conf');
  writeFileSync(empty, '');
  const before = JSON.parse(tsinetd(['--dump', '-f', empty, '--inetd', FIXTURE]).stdout) as { services: Service[] };
  const after = JSON.parse(tsinetd(['--dump', '-f', conf]).stdout) as { services: Service[] };
  assert.equal(after.services.length, before.services.length);
  const byId = new Map(after.services.map((s) => [s.id, s]));
  for (const s of before.services) {
    const back = byId.get(s.id);
    assert.ok(back !== undefined, `${s.id} is missing after conversion`);
    assert.deepEqual(differences(s, back), [], s.id);
  }
});

test('--dialect decides what plain tcp means: IPv4 only for FreeBSD, dual-stack for OpenBSD', () => {
  const free = tsinetd(['--convert', FIXTURE, '--dialect', 'freebsd']);
  const ftpFree = blocks(free.stdout).get('ftp');
  assert.ok(ftpFree !== undefined, free.stdout);
  assert.match(ftpFree, /\tflags +=.* IPv4\n/);
  assert.match(ftpFree, /\(FreeBSD inetd\.conf\)/);
  const open = tsinetd(['--convert', FIXTURE, '--dialect', 'openbsd']);
  assert.match(blocks(open.stdout).get('ftp')!, /\tv6only += no\n/);
});

test('a FreeBSD file: limits become instances/per_source, what xinetd cannot say is reported, exit 1', () => {
  const r = tsinetd(['--convert', 'fixtures/conf/convert/freebsd.conf']);
  assert.equal(r.status, 1);
  const ftp = blocks(r.stdout).get('ftp')!;
  assert.match(ftp, /\tinstances += 10\n/);
  assert.match(ftp, /\tper_source += 2\n/);
  assert.match(ftp, /\tdisable += yes\n/);
  assert.match(ftp, /\t# FreeBSD per-source limit, which xinetd does not have: at most 5 connections a minute/);
  assert.match(r.stderr, /^fixtures\/conf\/convert\/freebsd\.conf:3:26: warning: service 'ftp': FreeBSD's limit of 5 connections a minute/m);
  assert.match(r.stderr, /^fixtures\/conf\/convert\/freebsd\.conf:3:50: error: service 'ftp': 'echo hi' contains a blank/m);
  assert.match(ftp, /\t# FreeBSD max-child 10: a client past it waited to be accepted; xinetd's instances refuses it instead\n/);
  assert.match(
    r.stderr,
    /^fixtures\/conf\/convert\/freebsd\.conf:3:23: warning: service 'ftp': FreeBSD's max-child 10 made a client past the limit wait .* xinetd has no queueing/m,
  );
  assert.match(r.stderr, /2 services converted, 1 error, 2 warnings\n$/);
});

test('exit codes: 1 for an unreadable file or skipped entries, 2 for usage errors', () => {
  const missing = tsinetd(['--convert', 'fixtures/conf/convert/no-such-file']);
  assert.equal(missing.status, 1);
  assert.match(
    missing.stderr,
    /^fixtures\/conf\/convert\/no-such-file:1:1: error: cannot read inetd configuration file: no such file or directory \[unreadable-file\]$/m,
  );
  assert.equal(missing.stdout, '');
  const bad = tsinetd(['--convert', 'fixtures/conf/inetd/bad.conf']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^fixtures\/conf\/inetd\/bad\.conf:\d+:\d+: error: /m);
  for (const args of [
    ['--output-dir', '/tmp/x'],
    ['--dialect', 'freebsd'],
    ['--convert', FIXTURE, '--check'],
    ['--convert', FIXTURE, '--dump'],
    ['--convert', FIXTURE, '--dialect', 'netbsd'],
    ['--convert'],
    ['convert'],
  ]) {
    const r = tsinetd(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
  }
});

test('parseCommandLine: the convert action and its options', () => {
  const io: CliIo = { stdout: () => {}, stderr: () => {}, stderrIsTty: false };
  assert.deepEqual(parseCommandLine(['--convert', 'a.conf'], io).action, { kind: 'convert', file: 'a.conf', outputDir: null, dialect: 'auto' });
  assert.deepEqual(parseCommandLine(['convert', 'a.conf', '-o', 'd', '--dialect', 'freebsd'], io).action, {
    kind: 'convert',
    file: 'a.conf',
    outputDir: 'd',
    dialect: 'freebsd',
  });
});

test('file names: safe for includedir and unique', () => {
  const taken = new Set<string>();
  assert.equal(xinetdFileName('ftp', taken), 'ftp');
  assert.equal(xinetdFileName('ftp/tcp6', taken), 'ftp-tcp6');
  assert.equal(xinetdFileName('[::1]:comsat/udp6', taken), '1-comsat-udp6');
  assert.equal(xinetdFileName('a.b~', taken), 'a-b');
  assert.equal(xinetdFileName('a~b.', taken), 'a-b-2');
  assert.equal(xinetdFileName('...', taken), 'service');
});

// ---- the shared corpus -----------------------------------------------------------------------

interface CorpusConversion {
  file: string;
  services: Service[];
  back: Map<string, Service>;
  /** Error diagnostics of loading the converted files back. */
  errors: string[];
  out: string;
}

function convertCorpus(t: TestContext): CorpusConversion[] {
  const dir = tempDir(t, 'convert');
  return readdirSync(CORPUS)
    .sort()
    .map((file, i) => {
      const out = join(dir, String(i), 'xinetd.d');
      const r = convertInetdFile(join(CORPUS, file), out);
      const loaded = loadXinetdConfig(topConf(join(dir, String(i)), out));
      return {
        file,
        services: r.files.map((f) => f.service),
        back: new Map(loaded.services.map((s) => [s.id, s])),
        errors: loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message),
        out,
      };
    });
}

/** tsinetd's port-clash check does not yet tell an IPv4 socket from an IPv6-only one. */
const FAMILY_CLASH = /^port \d+\/\w+ on all addresses is already used by/;

test('corpus: every converted service reads back as the same Service', { skip: NO_CORPUS }, (t) => {
  let total = 0;
  let exact = 0;
  const unlisted: string[] = [];
  const familyClash: string[] = [];
  const unexplained: string[] = [];
  for (const c of convertCorpus(t)) {
    for (const s of c.services) {
      total++;
      const back = c.back.get(s.id);
      if (back === undefined) {
        unexplained.push(`${c.file}: ${s.id} is missing after conversion`);
        continue;
      }
      let diff = differences(s, back);
      if (back.type.includes('UNLISTED') && !s.type.includes('UNLISTED')) unlisted.push(`${c.file}: ${s.id}`);
      if (diff.length === 1 && diff[0] === 'enabled: true became false' && c.errors.some((e) => FAMILY_CLASH.test(e) && e.includes(`(id ${s.id})`))) {
        familyClash.push(`${c.file}: ${s.id}`);
        diff = [];
      } else if (diff.length === 0) exact++;
      for (const d of diff) unexplained.push(`${c.file}: ${s.id}: ${d}`);
    }
    // Errors on loading are the machine's (missing programs, unknown users, as inetd would find)
    // or the port-clash limitation; never the converter's.
    for (const e of c.errors) {
      if (!/^(server .* does not exist|server .* is not executable|unknown (user|group) )/.test(e) && !FAMILY_CLASH.test(e)) {
        unexplained.push(`${c.file}: loading the converted files: ${e}`);
      }
    }
  }
  t.diagnostic(
    `${total} services converted; ${exact} read back identical (besides the documented differences: inetd rate as a comment, ` +
      `NAMEINARGS only where needed, one dual-stack socket for inetd's socket per family, UNLISTED added for ${unlisted.length} numeric services); ` +
      `${familyClash.length} IPv6 halves turned off by tsinetd's port-clash check (see the todo test)`,
  );
  t.diagnostic(`UNLISTED added: ${unlisted.join(', ')}`);
  t.diagnostic(`turned off by the port-clash check: ${familyClash.join(', ')}`);
  assert.deepEqual(unexplained, []);
  assert.ok(total >= 100, `only ${total} services`);
});

test(
  'corpus: an IPv4 half and an IPv6-only half of one service load without a port clash',
  {
    skip: NO_CORPUS,
  },
  (t) => {
    const clashes = convertCorpus(t).flatMap((c) => c.errors.filter((e) => FAMILY_CLASH.test(e)).map((e) => `${c.file}: ${e}`));
    assert.deepEqual(clashes, []);
  },
);

test('split.conf (tcp + tcp6 lines): two services on one port, IPv4 and IPv6-only', (t) => {
  const dir = tempDir(t, 'convert');
  const out = join(dir, 'xinetd.d');
  assert.equal(tsinetd(['--convert', 'fixtures/conf/convert/split.conf', '-o', out]).status, 0);
  const check = tsinetd(['--check', '-f', topConf(dir, out)]);
  assert.match(check.stderr, /2 services \(2 enabled\), 0 errors/);
  assert.equal(check.status, 0, check.stderr);
});

// ---- the real xinetd -----------------------------------------------------------------------

function realXinetdSkip(): string | false {
  if (NO_CORPUS !== false) return NO_CORPUS;
  if (!existsSync(XINETD)) return `real xinetd not found at ${XINETD} (set TSINETD_XINETD_REF)`;
  if (spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore' }).status !== 0) {
    return 'cannot create a network namespace (`unshare -n`, needs root): real xinetd would bind real ports';
  }
  return false;
}

/** Runs real xinetd on `conf` in its own network namespace until it has read it; returns its log. */
async function xinetdReads(conf: string, log: string): Promise<string> {
  const child = spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up 2>/dev/null; exec "$0" -dontfork -f "$1" -filelog "$2"', XINETD, conf, log], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const state = { gone: false };
  void exited.then(() => (state.gone = true));
  // xinetd is stopped whatever the wait gave; a failure to stop outranks the wait's own error.
  const waited = await waitFor(
    () => (state.gone || (existsSync(log) && /Started working|Exiting/.test(readFileSync(log, 'utf8'))) ? true : undefined),
    10_000,
    `xinetd reading ${conf}`,
  ).then(
    () => null,
    (err: unknown) => ({ err }),
  );
  if (!state.gone) child.kill('SIGTERM');
  try {
    await withTimeout(exited, 5000, 'xinetd to exit');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  if (waited !== null) throw waited.err;
  return readFileSync(log, 'utf8');
}

/** xinetd's complaints about the configuration that are about this machine, not the files. */
const MACHINE = /(Server \S+ is not executable|Unknown user: \S+|Unknown group: \S+|Error parsing attribute (server|user|group) - DISABLING SERVICE) \[file=/;

test('corpus: the real xinetd reads every converted file without a configuration error', { skip: realXinetdSkip() }, async (t) => {
  let services = 0;
  let running = 0;
  const complaints: string[] = [];
  for (const c of convertCorpus(t)) {
    const dir = join(c.out, '..');
    const log = await xinetdReads(join(dir, 'xinetd.conf'), join(dir, 'xinetd.log'));
    for (const line of log.split('\n')) {
      if (/\[file=/.test(line) && /(ERROR|WARNING|CRITICAL)/.test(line) && !MACHINE.test(line)) complaints.push(`${c.file}: ${line}`);
    }
    // xinetd keeps exactly the services tsinetd finds no problem with (program, user, group).
    const available = /Started working: (\d+) available service/.exec(log);
    const expected = c.services.filter((s) => s.problems.length === 0).length;
    assert.ok(available !== null, `${c.file}: xinetd did not start:\n${log}`);
    assert.equal(Number(available[1]), expected, `${c.file}: services xinetd runs\n${log}`);
    services += c.services.length;
    running += expected;
  }
  t.diagnostic(`real xinetd read ${services} converted services; it runs the ${running} whose programs and users exist on this machine`);
  assert.deepEqual(complaints, []);
});
