#!/usr/bin/env node
// Makes the npm tarball users install: `npm run tarball [-- DESTINATION]` (default: build/),
// or `node scripts/tarball.mjs --no-build DESTINATION` right after `npm run build`.
//
// The tarball is packed from a staging directory (build/package/) holding only what an
// installed tsinetd needs, with a manifest that has no scripts and no dependencies:
// - the command, bundled with its dependencies (build/bin/tsinetd.mjs) and their licences;
// - the spawn helpers, static, for linux-x64 and (when the cross compiler is installed)
//   linux-arm64 (scripts/build-prebuilt.mjs), and the helper's C sources, from which the
//   daemon builds one at start on other machines when a compiler is there;
// - the man pages, the systemd unit, the logrotate and fail2ban examples.
// The checkout's own package.json is not shipped: its `prepare` script (the build, which needs
// the sources and development dependencies) would count as an install script, which npm 11
// blocks for global installs, and which would fail if allowed.
// Publish with `npm publish build/package` after this script.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.argv[2] === '--refuse-root') {
  process.stderr.write('The checkout is not the package: make the tarball with `npm run tarball` (see scripts/tarball.mjs).\n');
  process.exit(1);
}
const stage = join(root, 'build', 'package');
const args = process.argv.slice(2);
// --no-build: `npm run build` has just been run (the tests, after npm test's own build).
const noBuild = args[0] === '--no-build';
const destination = resolve(args[noBuild ? 1 : 0] ?? join(root, 'build'));

/** What the tarball holds, beside package.json: paths relative to the repository root. */
const SHIPPED = [
  'README.md',
  'LICENSE',
  'SECURITY.md',
  'build/bin/tsinetd.mjs',
  'build/bin/THIRD-PARTY-NOTICES.txt',
  'man',
  'native/prebuilt',
  'examples/tsinetd.service',
  'examples/logrotate',
  'examples/fail2ban',
];

/** The installed package's manifest: the checkout's, less scripts, dependencies and development fields. */
function manifest() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const keep = ['name', 'version', 'description', 'license', 'type', 'engines', 'os', 'bin', 'man', 'repository', 'homepage', 'bugs', 'keywords'];
  const out = {};
  for (const k of keep) if (pkg[k] !== undefined) out[k] = pkg[k];
  return out;
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  if (r.status !== 0) {
    process.stderr.write(`pack: ${cmd} ${args.join(' ')} failed\n`);
    process.exit(1);
  }
}

if (!noBuild) run('npm', ['run', '--silent', 'build']);
run(process.execPath, [join(root, 'scripts', 'build-prebuilt.mjs')]);
const { helperInputs } = await import(join(root, 'build', 'src', 'spawn', 'native', 'native-build.js'));
const shipped = [...SHIPPED, ...helperInputs(join(root, 'native')).map((p) => p.slice(root.length + 1))];
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
for (const rel of shipped) cpSync(join(root, rel), join(stage, rel), { recursive: true });
writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest(), null, 2)}\n`);
mkdirSync(destination, { recursive: true });
run('npm', ['pack', '--pack-destination', destination, stage]);
