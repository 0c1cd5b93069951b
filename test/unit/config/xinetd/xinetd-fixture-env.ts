// Shared by the xinetd.conf tests: the fixture directory, a system database made of fixture
// files (results do not depend on the machine's /etc), and helpers that build from text.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildServices, type BuildResult } from '../../../../src/config/xinetd/build.js';
import { statMode } from '../../../../src/config/config-permissions.js';
import type { LoadDeps } from '../../../../src/config/config.js';
import type { Diagnostic } from '../../../../src/diagnostics.js';
import { parseConfigText } from '../../../../src/config/xinetd/parse.js';
import { SysDb } from '../../../../src/sys/sysdb.js';
import type { PathInfo } from '../../../../src/config/validate.js';

/** The repository root (tests run from build/test/unit/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
export const XINETD_FIXTURES = join(REPO_ROOT, 'fixtures', 'conf', 'xinetd');

/**
 * The loaders' view in tests about other things, whoever runs the tests: a daemon run as root (as
 * in CI), so that `user = root` in a fixture means the same to everyone, and fixture files owned
 * by root (their modes as they are), as an installed configuration is.
 */
export const AS_ROOT: Pick<LoadDeps, 'identity' | 'modes'> = {
  identity: { uid: 0, gid: 0 },
  modes: (path) => {
    const m = statMode(path);
    return m === null ? null : { ...m, uid: 0 };
  },
};

export function fixtureDb(): SysDb {
  const etc = join(XINETD_FIXTURES, 'etc');
  return new SysDb({
    services: join(etc, 'services'),
    protocols: join(etc, 'protocols'),
    passwd: join(etc, 'passwd'),
    group: join(etc, 'group'),
    rpc: join(etc, 'rpc'),
  });
}

/** Every path exists as an executable file, except under /missing/, /dir/ and /noexec/. */
export function fakeProbe(path: string): PathInfo | null {
  if (path.startsWith('/missing/')) return null;
  if (path.startsWith('/dir/')) return { isFile: false, isDirectory: true, executable: true };
  if (path.startsWith('/noexec/')) return { isFile: true, isDirectory: false, executable: false };
  return { isFile: true, isDirectory: false, executable: true };
}

/** Parses and builds one file's text (no includes). Syntax diagnostics come first. */
export function buildText(text: string, file = 'test.conf'): BuildResult & { syntax: Diagnostic[] } {
  const parsed = parseConfigText(text, file);
  const entries = parsed.config.items.flatMap((node) => (node.kind === 'service' || node.kind === 'defaults' ? [{ node, unit: 0 }] : []));
  const built = buildServices(entries, fixtureDb());
  return { ...built, syntax: parsed.diagnostics };
}

/** "line:column severity message" lines, for compact assertions. */
export function brief(diags: readonly Diagnostic[]): string[] {
  return diags.map((d) => `${d.line}:${d.column} ${d.severity} ${d.message}`);
}
