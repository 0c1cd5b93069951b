// How the spawn helper (native/*.c → tsinetd-spawnd) is compiled: the one definition used by
// `npm run build` (scripts/build-native.mjs), by the release build of the shipped binaries
// (scripts/build-prebuilt.mjs) and by the daemon when it finds no usable helper at start
// (helper-binary.ts). Only the compiler's run is I/O; choosing it and its arguments is pure.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromEnv } from '../../app/options.js';
import { HEADER_NAME, protocolHeader } from './spawnd-protocol.js';

/** A compiler able to build the helper, and how it links. */
export interface Toolchain {
  /** The command (musl-gcc, cc, aarch64-linux-gnu-gcc, or $CC). */
  cc: string;
  /** Linked with -static: no shared libraries, so it runs on glibc and musl systems alike. */
  static: boolean;
  /** The platform tag the binary is for (platformTag()). */
  target: string;
  /** Without symbols (-s): the release's binaries. */
  strip?: boolean;
  /**
   * Warnings are errors (-Werror): our own builds (a checkout, the release), so that a warning
   * cannot land; not a helper built at start with whatever compiler the machine has, where a
   * new compiler's new warning would only cost the user the helper.
   */
  fatalWarnings: boolean;
}

/** Node's name for a platform and architecture, as the shipped binaries are filed: linux-x64, linux-arm64. */
export function platformTag(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}-${arch}`;
}

/** The cross compiler from Debian's packages for each target the release ships. */
export const RELEASE_TOOLCHAINS: Readonly<Record<string, Toolchain>> = {
  // musl-tools: a static musl binary; the helper calls nothing that needs NSS.
  'linux-x64': { cc: 'musl-gcc', static: true, target: 'linux-x64', strip: true, fatalWarnings: true },
  // gcc-aarch64-linux-gnu + libc6-dev-arm64-cross: static glibc, safe for the same reason.
  'linux-arm64': { cc: 'aarch64-linux-gnu-gcc', static: true, target: 'linux-arm64', strip: true, fatalWarnings: true },
};

/**
 * The compilers to try for this machine's own helper, best first: $CC when set (as asked),
 * else musl-gcc (static, as the release ships), else cc.
 */
export function localToolchains(env: NodeJS.ProcessEnv = process.env, target: string = platformTag(), fatalWarnings = true): Toolchain[] {
  const cc = env['CC'];
  if (cc !== undefined && cc !== '') return [{ cc, static: fromEnv(env).staticHelper, target, fatalWarnings }];
  return [
    { cc: 'musl-gcc', static: true, target, fatalWarnings },
    { cc: 'cc', static: false, target, fatalWarnings },
  ];
}

/** The text the helper prints after `build` in its --version line. */
export function buildLabel(tc: Toolchain, compilerVersion: string): string {
  const version = compilerVersion.trim() === '' ? '' : ` ${compilerVersion.trim()}`;
  return `${tc.target} ${tc.static ? 'static' : 'dynamic'} ${basename(tc.cc)}${version}`;
}

/**
 * The compiler's arguments for the helper: warnings on and fatal, optimised, the build label
 * compiled in, the generated protocol header (spawnd-protocol.h) found in `includeDir`.
 */
export function compileArgs(
  sources: readonly string[],
  output: string,
  tc: Toolchain,
  label: string,
  includeDir: string,
  extraFlags: readonly string[] = [],
): string[] {
  return [
    '-O2',
    '-Wall',
    '-Wextra',
    ...(tc.fatalWarnings ? ['-Werror'] : []),
    ...(tc.static ? ['-static'] : []),
    ...(tc.strip === true ? ['-s'] : []),
    `-DSPAWND_BUILD=${JSON.stringify(label)}`,
    `-I${includeDir}`,
    ...extraFlags,
    '-o',
    output,
    ...sources,
  ];
}

/** Every file the helper is built from (sources and headers), sorted. */
export function helperInputs(nativeDir: string): string[] {
  return readdirSync(nativeDir)
    .filter((n) => n.endsWith('.c') || n.endsWith('.h'))
    .sort()
    .map((n) => join(nativeDir, n));
}

/** The helper's sources in `nativeDir` (its *.c files), sorted. */
export function helperSources(nativeDir: string): string[] {
  return helperInputs(nativeDir).filter((p) => p.endsWith('.c'));
}

/**
 * Whether the helper at `output` is missing or older than what it is built from: the sources,
 * this module and the protocol table (both compiled into it), and `scripts` (the build script
 * that asks).
 */
export function helperStale(nativeDir: string, output: string, scripts: readonly string[] = []): boolean {
  if (!existsSync(output)) return true;
  const here = fileURLToPath(import.meta.url);
  const inputs = [...helperInputs(nativeDir), here, join(dirname(here), 'spawnd-protocol.js'), ...scripts];
  return Math.max(...inputs.map((p) => statSync(p).mtimeMs)) > statSync(output).mtimeMs;
}

/**
 * Writes the protocol header (spawnd-protocol.ts protocolHeader()) into `dir`, replacing it
 * atomically; returns null, or why it could not be written.
 */
export function writeProtocolHeader(dir: string): string | null {
  const path = join(dir, HEADER_NAME);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(tmp, protocolHeader());
    renameSync(tmp, path);
    return null;
  } catch (err) {
    rmSync(tmp, { force: true });
    return `cannot write ${path} (${(err as Error).message})`;
  }
}

/** The compiler's version (`-dumpfullversion`, else `-dumpversion`), or null when it does not run. */
export function compilerVersion(cc: string, env: NodeJS.ProcessEnv = process.env): string | null {
  for (const flag of ['-dumpfullversion', '-dumpversion']) {
    const r = spawnSync(cc, [flag], { encoding: 'utf8', env, timeout: 10_000 });
    if (r.error) return null;
    if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  }
  return null;
}

export type CompileResult = { ok: true; label: string; warnings: string } | { ok: false; why: string };

/**
 * Compiles the helper from `nativeDir` to `output` with the first toolchain that runs (the file
 * is replaced atomically, so a running tsinetd never starts a half-written helper). The protocol
 * header is generated for each compile into a directory of its own, removed afterwards: nothing
 * generated is kept, shipped or committed.
 */
export function compileHelper(nativeDir: string, output: string, toolchains: readonly Toolchain[], env: NodeJS.ProcessEnv = process.env): CompileResult {
  const tried: string[] = [];
  for (const tc of toolchains) {
    const version = compilerVersion(tc.cc, env);
    if (version === null) {
      tried.push(`${tc.cc}: not found`);
      continue;
    }
    let sources: string[];
    try {
      sources = helperSources(nativeDir);
    } catch (err) {
      return { ok: false, why: `cannot read the helper's sources in ${nativeDir} (${(err as Error).message})` };
    }
    if (sources.length === 0) return { ok: false, why: `no helper sources in ${nativeDir}` };
    const label = buildLabel(tc, version);
    const tmp = `${output}.tmp-${process.pid}`;
    try {
      mkdirSync(dirname(output), { recursive: true });
    } catch (err) {
      return { ok: false, why: `cannot create ${dirname(output)} (${(err as Error).message})` };
    }
    const includeDir = `${output}.include-${process.pid}`;
    const headerProblem = writeProtocolHeader(includeDir);
    if (headerProblem !== null) {
      rmSync(includeDir, { recursive: true, force: true });
      return { ok: false, why: headerProblem };
    }
    const extra = (env['CFLAGS'] ?? '').split(/\s+/).filter(Boolean);
    const r = spawnSync(tc.cc, compileArgs(sources, tmp, tc, label, includeDir, extra), { encoding: 'utf8', env, timeout: 120_000 });
    rmSync(includeDir, { recursive: true, force: true });
    if (r.error || r.status !== 0) {
      rmSync(tmp, { force: true });
      const details = `${(r.stderr as string | null) ?? '' /* null when it could not run, whatever the typings say */}${r.error ? String(r.error) : ''}`
        .trim()
        .split('\n')
        .slice(-3)
        .join(' / ');
      tried.push(`${tc.cc}: compiling failed${details ? ` (${details})` : ''}`);
      continue;
    }
    try {
      renameSync(tmp, output);
    } catch (err) {
      rmSync(tmp, { force: true });
      return { ok: false, why: `cannot write ${output} (${(err as Error).message})` };
    }
    return { ok: true, label, warnings: r.stderr.trim() };
  }
  return { ok: false, why: tried.length === 0 ? 'no C compiler to try' : tried.join('; ') };
}
