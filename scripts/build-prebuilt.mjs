#!/usr/bin/env node
// Builds the spawn helpers the npm tarball ships (native/prebuilt/<platform-arch>/tsinetd-spawnd),
// statically linked so that they run on glibc and musl systems alike and need nothing at
// install time. Run by `npm pack` / `npm publish` (prepack), after `npm run build`.
//   linux-x64:   musl-gcc (Debian: musl-tools)                       required
//   linux-arm64: aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu,
//                libc6-dev-arm64-cross), static glibc                 shipped when installed
// A missing x64 compiler fails the pack: a tarball without a helper for the common platform
// would silently run the slow fallback. The compile itself is defined in src/spawn/native/native-build.ts.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const builder = join(root, 'build', 'src', 'spawn', 'native', 'native-build.js');
const { compileHelper, helperStale, RELEASE_TOOLCHAINS } = await import(builder);
const REQUIRED = new Set(['linux-x64']);

let failed = false;
for (const [tag, tc] of Object.entries(RELEASE_TOOLCHAINS)) {
  const out = join(nativeDir, 'prebuilt', tag, 'tsinetd-spawnd');
  if (!helperStale(nativeDir, out, [fileURLToPath(import.meta.url)])) continue;
  const r = compileHelper(nativeDir, out, [tc]);
  if (r.ok) {
    process.stdout.write(`build-prebuilt: ${out.slice(root.length + 1)} (${r.label})\n`);
    continue;
  }
  rmSync(out, { force: true }); // never ship a stale one
  if (REQUIRED.has(tag)) {
    process.stderr.write(`build-prebuilt: error: cannot build the ${tag} helper: ${r.why}\n`);
    failed = true;
  } else {
    process.stderr.write(`build-prebuilt: warning: the tarball ships no ${tag} helper: ${r.why}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
