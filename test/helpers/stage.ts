// World-readable copies of parts of the checkout, for the tests that run something as another
// user (nobody): the daemon itself, or a fixture server. A checkout may sit where only its owner
// can enter (root's clone in /root, or in a 0700 `mktemp -d`); nobody could not reach the files
// there. The copy lives in a new directory under the system's temporary directory, every
// directory of it 0755 and every file keeping its mode; it is removed when the test ends.

import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { TestContext } from 'node:test';
import { systemDb } from '../../src/sys/sysdb.js';
import { CLI, ROOT } from './daemon.js';

type Cleanup = Pick<TestContext, 'after'>;

/**
 * Copies `files` (paths inside the checkout; those missing are left out) into a new world-readable
 * directory, keeping their place relative to the checkout's root. Returns the copy's root.
 */
export function stageForOthers(t: Cleanup, files: readonly string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'tsinetd-staged-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  chmodSync(root, 0o755);
  for (const file of files) {
    if (!existsSync(file)) continue;
    const rel = relative(ROOT, file);
    if (rel.startsWith('..')) throw new Error(`stageForOthers: ${file} is not inside ${ROOT}`);
    const to = join(root, rel);
    mkdirSync(dirname(to), { recursive: true });
    for (let d = dirname(rel); d !== '.'; d = dirname(d)) chmodSync(join(root, d), 0o755);
    copyFileSync(file, to);
    chmodSync(to, statSync(file).mode & 0o7777);
  }
  return root;
}

/** The same path in a staged copy (stageForOthers's root). */
export function stagedPath(root: string, file: string): string {
  return join(root, relative(ROOT, file));
}

/**
 * The command (build/bin/tsinetd.mjs) as another user can run it: the bundle, its source map and
 * the native spawner helper, staged. The bundle holds every module and dependency; an unbundled
 * build (no esbuild) would need the whole build tree and node_modules, so it is refused here.
 */
export function stagedCli(t: Cleanup): string {
  if (statSync(CLI).size < 4096) throw new Error(`${CLI} is not bundled (esbuild missing?): it cannot be staged for another user`);
  const root = stageForOthers(t, [CLI, `${CLI}.map`, join(ROOT, 'native', 'build', 'tsinetd-spawnd'), join(ROOT, 'package.json')]);
  return stagedPath(root, CLI);
}

/** Why a test that runs something as nobody:nogroup cannot run here, or false when it can. */
export function nobodyUnavailable(): string | false {
  if (process.geteuid?.() !== 0) return 'needs root (switching to user nobody)';
  if (systemDb.user('nobody') === undefined) return 'no user nobody on this machine';
  if (systemDb.group('nogroup') === undefined) return 'no group nogroup on this machine';
  return false;
}
