// Which spawn helper runs (helper-binary.ts) and how it is compiled (native-build.ts): the
// decisions, on data. The binaries themselves are run by test/e2e/package.test.ts and
// test/e2e/spawn-native.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseHelper,
  describeAbsence,
  helperCandidates,
  judgeAnswer,
  parseVersionLine,
  trustProblem,
  type HelperVerdict,
} from '../../../../src/spawn/native/helper-binary.js';
import { buildLabel, compileArgs, localToolchains, platformTag, RELEASE_TOOLCHAINS } from '../../../../src/spawn/native/native-build.js';
import { fallbackNotice, lostWithoutHelper } from '../../../../src/spawn/spawner.js';

test('the --version line gives protocol and build; anything else is no answer', () => {
  assert.deepEqual(parseVersionLine('tsinetd-spawnd protocol 4 build linux-x64 static musl-gcc 12.2.0\n'), {
    protocol: 4,
    build: 'linux-x64 static musl-gcc 12.2.0',
  });
  assert.equal(parseVersionLine('tsinetd-spawnd: takes no arguments; tsinetd starts it over an IPC channel\n'), null);
  assert.equal(parseVersionLine(''), null);
});

test('a helper that cannot run, stays silent or speaks another protocol is passed over, each with its reason', () => {
  assert.deepEqual(judgeAnswer({ status: 0, stdout: 'tsinetd-spawnd protocol 4 build x\n' }, 4), { ok: true, identity: { protocol: 4, build: 'x' } });
  assert.deepEqual(judgeAnswer({ status: 0, stdout: 'tsinetd-spawnd protocol 3 build x\n' }, 4), { ok: false, why: 'it speaks protocol 3, not 4' });
  assert.match((judgeAnswer({ status: 2, stdout: '' }, 4) as { why: string }).why, /does not tell its protocol \(exit 2; built from older sources\)/);
  assert.match((judgeAnswer({ error: 'ENOEXEC', status: null, stdout: '' }, 4) as { why: string }).why, /built for another machine/);
  assert.match((judgeAnswer({ error: 'EACCES', status: null, stdout: '' }, 4) as { why: string }).why, /cannot run \(EACCES\)/);
});

test('a helper another user could have replaced is not run: owner root or our own user, written by nobody else, executable', () => {
  const ok = { uid: 0, gid: 0, mode: 0o100755 };
  const dir = { uid: 0, gid: 0, mode: 0o40755 };
  assert.equal(trustProblem(ok, dir, 0), null);
  assert.equal(trustProblem({ ...ok, uid: 1000 }, { ...dir, uid: 1000 }, 1000), null);
  assert.match(trustProblem({ ...ok, uid: 1000 }, dir, 0)!, /^it belongs to uid 1000/);
  assert.match(trustProblem(ok, { ...dir, uid: 1001 }, 1000)!, /^its directory belongs to uid 1001/);
  assert.equal(trustProblem({ ...ok, mode: 0o100775 }, dir, 0), 'it is writable by its group');
  assert.equal(trustProblem(ok, { ...dir, mode: 0o40777 }, 0), 'its directory is writable by everyone');
  assert.equal(trustProblem({ ...ok, mode: 0o100644 }, dir, 0), 'it is not executable');
});

test('candidates: the package build, then the binary shipped for this platform, then the cache; $TSINETD_SPAWND alone when set', () => {
  const c = helperCandidates('/pkg', { HOME: '/home/u' }, 'linux-arm64');
  assert.deepEqual(
    c.map((x) => [x.origin, x.path]),
    [
      ['built', '/pkg/native/build/tsinetd-spawnd'],
      ['prebuilt', '/pkg/native/prebuilt/linux-arm64/tsinetd-spawnd'],
      ['cache', c[2]!.path],
    ],
  );
  assert.match(c[2]!.path, /^\/home\/u\/\.cache\/tsinetd\/[^/]+\/linux-arm64\/tsinetd-spawnd$/);
  assert.match(helperCandidates('/pkg', { HOME: '/home/u', XDG_CACHE_HOME: '/var/cache/x' }, 'linux-x64')[2]!.path, /^\/var\/cache\/x\/tsinetd\//);
  // A relative XDG_CACHE_HOME is ignored, as the XDG specification says.
  assert.match(helperCandidates('/pkg', { HOME: '/home/u', XDG_CACHE_HOME: 'rel' }, 'linux-x64')[2]!.path, /^\/home\/u\/\.cache\//);
  assert.deepEqual(helperCandidates('/pkg', { TSINETD_SPAWND: '/opt/h' }), [{ path: '/opt/h', origin: 'env' }]);
});

test('the first good candidate is chosen; the ones before it are reported with their reasons', () => {
  const verdicts: Record<string, HelperVerdict> = {
    '/a': { ok: false, why: 'missing' },
    '/b': { ok: false, why: 'it speaks protocol 3, not 4' },
    '/c': { ok: true, identity: { protocol: 4, build: 'b' } },
    '/d': { ok: true, identity: { protocol: 4, build: 'never looked at' } },
  };
  const seen: string[] = [];
  const r = chooseHelper(
    ['/a', '/b', '/c', '/d'].map((path) => ({ path, origin: 'built' as const })),
    (p) => (seen.push(p), verdicts[p]!),
  );
  assert.equal(r.helper?.candidate.path, '/c');
  assert.deepEqual(seen, ['/a', '/b', '/c']);
  assert.equal(describeAbsence(r), '/a: missing; /b: it speaks protocol 3, not 4');
  const none = chooseHelper([{ path: '/a', origin: 'prebuilt' }], (p) => verdicts[p]!);
  assert.equal(none.helper, null);
  const notice = fallbackNotice({ ...none, built: { ok: false, why: 'musl-gcc: not found; cc: not found' } }, 'linux-x64');
  assert.match(
    notice,
    /^no native spawn helper for linux-x64 \(\/a: missing; building one: musl-gcc: not found; cc: not found\): servers are started by the Node spawner; /,
  );
  assert.match(notice, /install a C compiler \(musl-tools or gcc\) and restart/);
});

test("what the Node spawner loses is derived from the two spawners' capabilities", () => {
  const lost = lostWithoutHelper();
  assert.match(lost, /groups = yes/);
  assert.match(lost, /rlimit_\*/);
  assert.match(lost, /wait = yes datagrams/);
  assert.match(lost, /unix-domain datagram sockets \(inetd\.conf `dgram unix`\) are not served/);
  assert.doesNotMatch(lost, /umask|nice/); // the Node spawner applies those
});

test('compiling: the release links statically and strips; the build label is compiled in; local builds prefer musl-gcc, or $CC', () => {
  const x64 = RELEASE_TOOLCHAINS['linux-x64']!;
  const args = compileArgs(['/n/a.c', '/n/b.c'], '/o/h', x64, buildLabel(x64, '12.2.0\n'), '/o/h.include-1');
  assert.deepEqual(args, [
    '-O2',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-static',
    '-s',
    '-DSPAWND_BUILD="linux-x64 static musl-gcc 12.2.0"',
    '-I/o/h.include-1',
    '-o',
    '/o/h',
    '/n/a.c',
    '/n/b.c',
  ]);
  assert.equal(RELEASE_TOOLCHAINS['linux-arm64']!.static, true);
  assert.deepEqual(
    localToolchains({}, 'linux-x64').map((t) => [t.cc, t.static]),
    [
      ['musl-gcc', true],
      ['cc', false],
    ],
  );
  assert.deepEqual(localToolchains({ CC: 'clang' }, 'linux-x64'), [{ cc: 'clang', static: false, target: 'linux-x64', fatalWarnings: true }]);
  // A helper built at start: a warning of the machine's compiler does not cost the user the helper.
  assert.ok(localToolchains({}, 'linux-x64', false).every((t) => !t.fatalWarnings));
  assert.ok(!compileArgs(['/n/a.c'], '/o/h', localToolchains({}, 'linux-x64', false)[0]!, 'l', '/i').includes('-Werror'));
  assert.equal(localToolchains({ CC: 'clang', TSINETD_STATIC: '1' })[0]!.static, true);
  assert.equal(platformTag('linux', 'arm64'), 'linux-arm64');
});
