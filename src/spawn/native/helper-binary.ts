// Which spawn helper binary runs: the places one may be (built in the package, shipped for this
// platform, built at start into a cache), what each one says of itself (`--version`: protocol
// and build), and the choice. The daemon (spawner.ts), `--check` and `-version` all take the
// answer from resolveHelper(), so they cannot disagree about the spawner in use.
//
// Decisions are pure functions of data (file owner and mode, the version line); probeHelper()
// and resolveHelper() do the I/O.

import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FileAccess } from '../../sys/file-access.js';
import { compileHelper, localToolchains, platformTag } from './native-build.js';
import { fromEnv } from '../../app/options.js';
import { VERSION as PROTOCOL_VERSION } from './spawnd-protocol.js';
import { VERSION } from '../../app/version.js';
import { thisPackage } from '../../sys/package-root.js';
import { present } from '../../util/invariant.js';

/** The protocol this tsinetd speaks with the helper (spawnd-protocol.ts, native/PROTOCOL.md). */

export const HELPER_NAME = 'tsinetd-spawnd';

/** Where a helper comes from: explicitly named, built in the package, shipped, or built at start. */
export type HelperOrigin = 'env' | 'built' | 'prebuilt' | 'cache';

export interface HelperCandidate {
  path: string;
  origin: HelperOrigin;
}

/** What a helper said of itself. */
export interface HelperIdentity {
  protocol: number;
  build: string;
}

export type HelperVerdict = { ok: true; identity: HelperIdentity } | { ok: false; why: string };

/** The package's root directory (package-root.ts). */
export function packageRoot(): string {
  const pkg = thisPackage();
  if (pkg === null) throw new Error("tsinetd's package.json was not found above its modules");
  return pkg.root;
}

/** Where a helper built at start goes when the package's own directory is read-only. */
export function cacheDirectory(env: NodeJS.ProcessEnv = process.env, tag: string = platformTag()): string {
  const base = env['XDG_CACHE_HOME'] !== undefined && env['XDG_CACHE_HOME'].startsWith('/') ? env['XDG_CACHE_HOME'] : join(env['HOME'] ?? homedir(), '.cache');
  return join(base, 'tsinetd', VERSION, tag);
}

/**
 * The places to look, in order: $TSINETD_SPAWND alone when set; else the package's own build
 * (a checkout, or built at start), the binary shipped for this platform, the cache.
 */
export function helperCandidates(root: string = packageRoot(), env: NodeJS.ProcessEnv = process.env, tag: string = platformTag()): HelperCandidate[] {
  const named = fromEnv(env).spawnd;
  if (named !== null) return [{ path: named, origin: 'env' }];
  return [
    { path: join(root, 'native', 'build', HELPER_NAME), origin: 'built' },
    { path: join(root, 'native', 'prebuilt', tag, HELPER_NAME), origin: 'prebuilt' },
    { path: join(cacheDirectory(env, tag), HELPER_NAME), origin: 'cache' },
  ];
}

/** The helper's `--version` line: `tsinetd-spawnd protocol N build TEXT`. */
export function parseVersionLine(text: string): HelperIdentity | null {
  const m = /^tsinetd-spawnd protocol (\d+) build (.+)$/m.exec(text);
  return m ? { protocol: Number(m[1]), build: present(m[2], 'the build group, which always takes part').trim() } : null;
}

/**
 * Whether a process running as `euid` may trust this file to run as the helper: it runs every
 * server, as root when tsinetd is root, so nobody but root or `euid` may own it or write to it
 * or its directory.
 */
export function trustProblem(file: FileAccess, dir: FileAccess, euid: number): string | null {
  for (const [what, f] of [
    ['it', file],
    ['its directory', dir],
  ] as const) {
    if (f.uid !== 0 && f.uid !== euid) return `${what} belongs to uid ${f.uid}, not to root or to tsinetd's user`;
    if ((f.mode & 0o022) !== 0) return `${what} is writable by ${(f.mode & 0o002) !== 0 ? 'everyone' : 'its group'}`;
  }
  if ((file.mode & 0o100) === 0) return 'it is not executable';
  return null;
}

/** What a candidate's answer to `--version` means, given how running it went. */
export function judgeAnswer(run: { error?: string; status: number | null; stdout: string }, expected: number = PROTOCOL_VERSION): HelperVerdict {
  if (run.error !== undefined) {
    return { ok: false, why: run.error === 'ENOEXEC' ? 'it cannot run here (ENOEXEC: built for another machine)' : `it cannot run (${run.error})` };
  }
  const identity = parseVersionLine(run.stdout);
  if (identity === null) return { ok: false, why: `it does not tell its protocol (exit ${run.status ?? 'by signal'}; built from older sources)` };
  if (identity.protocol !== expected) return { ok: false, why: `it speaks protocol ${identity.protocol}, not ${expected}` };
  return { ok: true, identity };
}

/** Runs a candidate with `--version` and judges it (absent, untrusted, unrunnable, wrong protocol). */
export function probeHelper(path: string, euid: number = process.geteuid?.() ?? 0): HelperVerdict {
  let file: FileAccess;
  let dir: FileAccess;
  try {
    file = statSync(path);
    dir = statSync(dirname(path));
  } catch (err) {
    return { ok: false, why: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `cannot stat it (${(err as Error).message})` };
  }
  const distrust = trustProblem(file, dir, euid);
  if (distrust !== null) return { ok: false, why: distrust };
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
  const code = r.error ? ((r.error as NodeJS.ErrnoException).code ?? r.error.message) : undefined;
  const stdout = (r.stdout as string | null) ?? ''; // null when it could not run, whatever the typings say
  return judgeAnswer({ ...(code !== undefined ? { error: code } : {}), status: r.status, stdout });
}

export interface HelperResolution {
  /** The helper to run, or null: the Node spawner. */
  helper: { candidate: HelperCandidate; identity: HelperIdentity } | null;
  /** Every candidate looked at before the choice, and why it was passed over. */
  rejected: Array<{ candidate: HelperCandidate; why: string }>;
  /** Set when a helper was compiled at start: where, or why that failed. */
  built: { ok: true; path: string } | { ok: false; why: string } | null;
}

/** The first candidate whose verdict is good. */
export function chooseHelper(candidates: readonly HelperCandidate[], judge: (path: string) => HelperVerdict): HelperResolution {
  const rejected: HelperResolution['rejected'] = [];
  for (const candidate of candidates) {
    const v = judge(candidate.path);
    if (v.ok) return { helper: { candidate, identity: v.identity }, rejected, built: null };
    rejected.push({ candidate, why: v.why });
  }
  return { helper: null, rejected, built: null };
}

function writableDirectory(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    accessSync(dir, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The helper to run. With `build`, when no candidate will do and the helper's sources are in
 * the package, it is compiled (into native/build/ when the package may be written, else into
 * the cache) and looked at again. Without it (-version, --check), nothing is written.
 */
export function resolveHelper(options: { build: boolean; root?: string; env?: NodeJS.ProcessEnv } = { build: false }): HelperResolution {
  const root = options.root ?? packageRoot();
  const env = options.env ?? process.env;
  const candidates = helperCandidates(root, env);
  const first = chooseHelper(candidates, (p) => probeHelper(p));
  if (first.helper !== null || !options.build || candidates[0]?.origin === 'env') return first;
  const own = present(
    candidates.find((c) => c.origin === 'built'),
    'the built candidate, always listed (helperCandidates)',
  );
  const cache = present(
    candidates.find((c) => c.origin === 'cache'),
    'the cache candidate, always listed (helperCandidates)',
  );
  const target = writableDirectory(dirname(own.path)) ? own : writableDirectory(dirname(cache.path)) ? cache : null;
  if (target === null) return { ...first, built: { ok: false, why: `neither ${dirname(own.path)} nor ${dirname(cache.path)} can be written` } };
  // Warnings do not stop a build at start (native-build.ts Toolchain.fatalWarnings).
  const compiled = compileHelper(join(root, 'native'), target.path, localToolchains(env, platformTag(), false));
  if (!compiled.ok) return { ...first, built: { ok: false, why: compiled.why } };
  const verdict = probeHelper(target.path);
  if (!verdict.ok) return { ...first, built: { ok: false, why: `the helper built at ${target.path} will not do: ${verdict.why}` } };
  return { helper: { candidate: target, identity: verdict.identity }, rejected: first.rejected, built: { ok: true, path: target.path } };
}

/** One line on the helper chosen, for -version and the start-up notice. */
export function describeHelper(r: HelperResolution): string {
  if (r.helper === null) return 'none usable';
  const { candidate, identity } = r.helper;
  return `${candidate.path} (${candidate.origin === 'cache' || r.built?.ok === true ? 'built at start' : candidate.origin}; protocol ${identity.protocol}; ${identity.build})`;
}

/** Why there is no helper, one clause per place looked at (and the build at start). */
export function describeAbsence(r: HelperResolution): string {
  const places = r.rejected.map((x) => `${x.candidate.path}: ${x.why}`);
  if (r.built !== null && !r.built.ok) places.push(`building one: ${r.built.why}`);
  return places.join('; ');
}
