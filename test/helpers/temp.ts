// Temporary directories for the tests, removed when the test ends, and the layout the file-safety
// tests share: a private stand-in for /tmp (a directory every user can write, sticky) next to a
// "victim" file that nothing may write through a link planted in it.

import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** A new directory tsinetd-NAME-XXXXXX under the system's temporary directory; removed after the test. */
export function tempDir(t: TestContext, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tsinetd-${name}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface SharedDirLayout {
  /** The test's private directory. */
  dir: string;
  /** dir/shared, mode 1777 (as /tmp). */
  shared: string;
  /** dir/victim, a file holding "precious\n", outside the shared directory. */
  victim: string;
}

/** A temporary directory holding a world-writable sticky directory and a file to protect. */
export function sharedDirLayout(t: TestContext, name: string): SharedDirLayout {
  const dir = tempDir(t, name);
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n');
  return { dir, shared, victim };
}
