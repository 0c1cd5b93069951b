#!/usr/bin/env node
// Builds the native spawn helper (native/*.c -> native/build/tsinetd-spawnd) when a C
// compiler is available. Without one, or when compilation fails, it prints one warning and
// exits 0: tsinetd then runs with the pure-Node spawner.
// Environment: CC (compiler, default "cc"), CFLAGS (extra flags), TSINETD_NATIVE=0 (skip).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'native');
const outDir = join(srcDir, 'build');
const target = join(outDir, 'tsinetd-spawnd');

function warn(message) {
  process.stderr.write(`build-native: warning: ${message}; tsinetd will use the Node spawner\n`);
}

function main() {
  if (process.env.TSINETD_NATIVE === '0') {
    process.stdout.write('build-native: skipped (TSINETD_NATIVE=0)\n');
    return;
  }
  if (process.platform !== 'linux') {
    warn(`the spawn helper supports Linux only (this is ${process.platform})`);
    return;
  }
  const inputs = readdirSync(srcDir).filter((n) => n.endsWith('.c') || n.endsWith('.h'));
  const sources = inputs.filter((n) => n.endsWith('.c')).map((n) => join(srcDir, n));
  if (existsSync(target)) {
    const built = statSync(target).mtimeMs;
    const newest = Math.max(
      ...inputs.map((n) => statSync(join(srcDir, n)).mtimeMs),
      statSync(fileURLToPath(import.meta.url)).mtimeMs,
    );
    if (newest <= built) return; // up to date
  }
  const cc = process.env.CC || 'cc';
  const probe = spawnSync(cc, ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    warn(`no C compiler ("${cc}") found`);
    return;
  }
  mkdirSync(outDir, { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  const extra = (process.env.CFLAGS ?? '').split(/\s+/).filter(Boolean);
  const args = ['-O2', '-Wall', '-Wextra', ...extra, '-o', tmp, ...sources];
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    const details = `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim();
    if (details) process.stderr.write(`${details}\n`);
    warn('compiling native/spawnd.c failed');
    return;
  }
  if (r.stderr.trim()) process.stderr.write(r.stderr);
  // Atomic replace, so a running tsinetd never sees a half-written helper.
  renameSync(tmp, target);
  process.stdout.write(`build-native: built ${target.slice(root.length + 1)}\n`);
}

try {
  main();
} catch (err) {
  warn(`unexpected failure (${err instanceof Error ? err.message : String(err)})`);
}
