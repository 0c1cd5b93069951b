#!/usr/bin/env node
// Bundles the compiled command (build/src/app/bin.js and every module it imports, dependencies
// included) into one file, build/bin/tsinetd.mjs: the file package.json's `bin` runs.
//
// Why: the daemon is a long-lived process whose resident memory counts. Loading about ninety
// separate modules costs about 8 MiB more than loading the same code as one file: module
// records, their sources (kept by V8), and TurboFan compiling the module resolver's path
// functions, which become hot while the modules load (measured with `npm run bench`; see
// README, Performance). Whitespace and comments are dropped for the same reason; the source map
// beside the bundle gives stack traces their TypeScript positions under
// `node --enable-source-maps`.
//
// Without esbuild (a development dependency), the file is a two-line entry that loads the
// unbundled modules instead: everything works, with the larger footprint.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'build', 'src', 'app', 'bin.js');
const outfile = join(root, 'build', 'bin', 'tsinetd.mjs');
const notices = join(root, 'build', 'bin', 'THIRD-PARTY-NOTICES.txt');

/** Bundled CommonJS dependencies call require() for Node's built-in modules. */
const REQUIRE_BANNER = "import { createRequire as tsinetdCreateRequire } from 'node:module';\nconst require = tsinetdCreateRequire(import.meta.url);";

async function loadEsbuild() {
  if (process.env.TSINETD_BUNDLE === '0') return { reason: 'skipped (TSINETD_BUNDLE=0)' };
  try {
    return { esbuild: await import('esbuild') };
  } catch (err) {
    return { reason: `esbuild is not installed (${err.code ?? err.message})` };
  }
}

function writeUnbundledEntry(reason) {
  writeFileSync(outfile, `#!/usr/bin/env node\n// Not bundled: ${reason}.\nimport '../src/app/bin.js';\n`);
  chmodSync(outfile, 0o755);
  rmSync(`${outfile}.map`, { force: true });
  rmSync(notices, { force: true });
  process.stderr.write(`bundle: warning: ${reason}; build/bin/tsinetd.mjs loads the unbundled modules\n`);
}

/**
 * The licence texts of the packages whose code the bundle holds (each package's name, version
 * and LICENSE file), which their licences ask to be shipped with the code.
 */
function thirdPartyNotices(inputs) {
  const dirs = new Set();
  for (const input of inputs) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  const parts = ['tsinetd bundles the following packages into build/bin/tsinetd.mjs.', ''];
  for (const dir of [...dirs].sort()) {
    const full = join(root, dir);
    const pkg = JSON.parse(readFileSync(join(full, 'package.json'), 'utf8'));
    const file = readdirSync(full).find((n) => /^(licen[cs]e|copying)(\.|$)/i.test(n));
    parts.push('='.repeat(72), `${pkg.name} ${pkg.version} (${pkg.license ?? 'see below'})`, '='.repeat(72));
    parts.push(file && existsSync(join(full, file)) ? readFileSync(join(full, file), 'utf8').trim() : `(no licence file in the package; its package.json says: ${pkg.license ?? 'nothing'})`, '');
  }
  return `${parts.join('\n')}\n`;
}

async function main() {
  mkdirSync(dirname(outfile), { recursive: true });
  const { esbuild, reason } = await loadEsbuild();
  if (!esbuild) {
    writeUnbundledEntry(reason);
    return;
  }
  try {
    const result = await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      minifyWhitespace: true,
      minifySyntax: true,
      // Non-ASCII text anywhere would make V8 keep the whole source as two-byte characters.
      charset: 'ascii',
      legalComments: 'external',
      sourcemap: 'linked',
      banner: { js: REQUIRE_BANNER },
      // winston's debug library (@dabh/diagnostics) picks its no-op build by NODE_ENV; its
      // development build loads colour and formatting modules the daemon never uses (0.6 MiB).
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'warning',
      metafile: true,
    });
    chmodSync(outfile, 0o755);
    writeFileSync(notices, thirdPartyNotices(Object.keys(result.metafile.inputs)));
  } catch (err) {
    writeUnbundledEntry(`esbuild failed (${err.message.split('\n')[0]})`);
  }
}

await main();
