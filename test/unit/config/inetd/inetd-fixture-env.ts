// Shared by the inetd.conf tests: the fixture directory and a system database made of the
// fixture files, so that results do not depend on the machine's /etc.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InetdBuildEnv } from '../../../../src/config/inetd/inetd-build.js';
import { SysDb } from '../../../../src/sys/sysdb.js';

/** The repository root (tests run from build/test/unit/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
export const INETD_FIXTURES = join(REPO_ROOT, 'fixtures', 'conf', 'inetd');

/** Fixture /etc files; every server program exists except those under /missing/. */
export function fixtureEnv(): InetdBuildEnv {
  const etc = join(INETD_FIXTURES, 'etc');
  return {
    db: new SysDb({
      services: join(etc, 'services'),
      protocols: join(etc, 'protocols'),
      passwd: join(etc, 'passwd'),
      group: join(etc, 'group'),
      rpc: join(etc, 'rpc'),
    }),
    programProblem: (path) => (path.startsWith('/missing/') ? `server program ${path} does not exist` : null),
  };
}
