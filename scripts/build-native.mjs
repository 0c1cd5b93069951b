#!/usr/bin/env node
// Builds this machine's spawn helper (native/*.c -> native/build/tsinetd-spawnd) when a C
// compiler is available: musl-gcc (static, as the release ships it) when installed, else cc,
// or $CC. Without one, or when compilation fails, it prints one warning and exits 0: tsinetd
// then ships or builds a helper at start, or runs with the Node spawner (see
// src/spawn/native/helper-binary.ts). How the helper is compiled is defined once, in src/spawn/native/native-build.ts
// (run after tsc, from build/src/spawn/native/native-build.js).
// Environment: CC (compiler), TSINETD_STATIC=1 (link $CC's build statically), CFLAGS (extra
// flags), TSINETD_NATIVE=0 (skip).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'native');
const target = join(srcDir, 'build', 'tsinetd-spawnd');

function warn(message) {
  process.stderr.write(`build-native: warning: ${message}; tsinetd will use a shipped helper or the Node spawner\n`);
}

async function main() {
  if (process.env.TSINETD_NATIVE === '0') {
    process.stdout.write('build-native: skipped (TSINETD_NATIVE=0)\n');
    return;
  }
  if (process.platform !== 'linux') {
    warn(`the spawn helper supports Linux only (this is ${process.platform})`);
    return;
  }
  const builder = join(root, 'build', 'src', 'spawn', 'native', 'native-build.js');
  const { compileHelper, helperStale, localToolchains } = await import(builder);
  if (!helperStale(srcDir, target, [fileURLToPath(import.meta.url)])) return; // up to date
  const r = compileHelper(srcDir, target, localToolchains());
  if (!r.ok) {
    warn(r.why);
    return;
  }
  if (r.warnings) process.stderr.write(`${r.warnings}\n`);
  process.stdout.write(`build-native: built ${target.slice(root.length + 1)} (${r.label})\n`);
}

try {
  await main();
} catch (err) {
  warn(`unexpected failure (${err instanceof Error ? err.message : String(err)})`);
}
