#!/usr/bin/env node
// Runs tests from a fresh clone of this repository (its committed HEAD), where a user would put it:
//
//   node scripts/clone-check.mjs private   as root, a clone in a new 0700 directory (as in /root or
//                                          a `mktemp -d`), running the tests that run something as
//                                          nobody: nobody cannot enter the checkout there.
//   node scripts/clone-check.mjs user      as a scratch user made for the run (useradd -m, removed
//                                          afterwards), a clone in its home, running the whole suite:
//                                          what needs root skips and says why.
//
// Needs root and git (the user mode also useradd, userdel and runuser); without them it says so
// and exits 0. node_modules comes from this checkout (linked, or copied for the scratch user), so
// no network is needed. Each step has a time limit. Exit status: 0 when the tests passed.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2] ?? 'private';
const BUILD_MS = 600_000;
const TESTS_MS = Number(process.env.CLONE_CHECK_MAX_SECONDS ?? 1800) * 1000;

function say(text) {
  process.stderr.write(`clone-check: ${text}\n`);
}

function skip(reason) {
  say(`skipped: ${reason}`);
  process.exit(0);
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Runs a command with inherited output; throws when it fails or runs out of time. */
function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}`);
}

/** Runs the tests and passes on their output; returns the node:test summary counts. */
function runTests(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024, ...opts });
  process.stdout.write(r.stdout ?? '');
  if (r.error) throw new Error(`tests: ${r.error.message}`);
  const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(r.stdout ?? '')?.[1] ?? NaN);
  return { status: r.status, pass: count('pass'), fail: count('fail'), skipped: count('skipped') };
}

/** The e2e test files that run something as another user (nobody), by what their source uses. */
function privilegeDroppingTests() {
  const dir = join(root, 'test', 'e2e');
  const marks = /stageForOthers|stagedCli|asNobody\(|nobodyUnavailable\(|user: 'nobody'|uid: 65534/;
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((n) => n.endsWith('.test.ts') && marks.test(readFileSync(join(dir, n), 'utf8')))
    .map((n) => `e2e/${n.replace(/\.ts$/, '.js')}`);
}

if (process.geteuid?.() !== 0) skip('needs root');
if (!have('git')) skip('git is not installed');
if (!existsSync(join(root, '.git'))) skip(`${root} is not a git checkout`);

if (mode === 'private') {
  const files = privilegeDroppingTests();
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-private-'));
  chmodSync(dir, 0o700);
  try {
    const clone = join(dir, 'tsinetd');
    run('git', ['clone', '--quiet', root, clone], { timeout: BUILD_MS });
    if (existsSync(join(root, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'));
    else run('npm', ['install', '--no-audit', '--no-fund'], { cwd: clone, timeout: BUILD_MS });
    run('npm', ['run', '--silent', 'build'], { cwd: clone, timeout: BUILD_MS, stdio: ['ignore', 'ignore', 'inherit'] });
    say(`${clone} (directory mode ${(statSync(dir).mode & 0o777).toString(8)}): ${files.join(' ')}`);
    const r = runTests(process.execPath, [join(clone, 'scripts', 'run-tests.mjs'), ...files], { cwd: clone, timeout: TESTS_MS });
    say(`from a 0700 clone: ${r.pass} passed, ${r.fail} failed, ${r.skipped} skipped`);
    process.exitCode = r.status === 0 && r.fail === 0 ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else if (mode === 'user') {
  for (const cmd of ['useradd', 'userdel', 'runuser']) if (!have(cmd)) skip(`${cmd} is not installed`);
  const user = `tsinetd-ci-${process.pid}`;
  run('useradd', ['--create-home', '--shell', '/bin/sh', user], { timeout: 60_000 });
  try {
    const home = spawnSync('getent', ['passwd', user], { encoding: 'utf8' }).stdout.split(':')[5];
    if (home === undefined || home === '') throw new Error(`no home directory for ${user}`);
    const clone = join(home, 'tsinetd');
    run('git', ['clone', '--quiet', root, clone], { timeout: BUILD_MS });
    if (existsSync(join(root, 'node_modules'))) cpSync(join(root, 'node_modules'), join(clone, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    run('chown', ['-R', `${user}:`, clone], { timeout: 120_000 });
    const as = (command) => ['-u', user, '--', 'env', `HOME=${home}`, 'sh', '-c', `cd '${clone}' && ${command}`];
    if (!existsSync(join(clone, 'node_modules'))) run('runuser', as('npm install --no-audit --no-fund'), { timeout: BUILD_MS });
    say(`${clone}, as ${user}: npm test`);
    const r = runTests('runuser', as('npm test'), { timeout: TESTS_MS + BUILD_MS });
    say(`as ${user}: ${r.pass} passed, ${r.fail} failed, ${r.skipped} skipped (each skip above states its reason)`);
    process.exitCode = r.status === 0 && r.fail === 0 ? 0 : 1;
  } finally {
    spawnSync('userdel', ['--remove', user], { stdio: 'ignore', timeout: 60_000 });
  }
} else {
  say(`unknown mode '${mode}' (private or user)`);
  process.exitCode = 2;
}
