// The shared corpus of real xinetd configurations (../shared/corpus/xinetd/, beside the
// repository), loaded the way the oracle loaded them, compared with what real xinetd 2.3.15.3
// made of each (expected/xinetd/*.json, run `provisioned`: users and server programs existed).
//
// For each file, the enabled services of our table must be exactly the services xinetd kept
// (id, socket_type, protocol, port, wait, server, server_argv) — so services xinetd dropped for
// an error are not enabled in ours either. `problems` (missing programs or users on this
// machine) are ignored, as the oracle had them provisioned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../src/config/config.js';
import type { Service } from '../../../src/table.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CORPUS = join(REPO_ROOT, '..', 'shared', 'corpus');
const SKIP = existsSync(join(CORPUS, 'xinetd')) ? false : `shared corpus not found at ${CORPUS} (it lives beside the repository)`;

/**
 * Files whose comparison is known to differ, each with its reason. The test fails if one of
 * them starts to match (then take it off the list).
 */
const KNOWN_EXCEPTIONS: Record<string, string> = {
  // `flags = INTERCEPT` on the RPC service rstatd: xinetd turns an intercepted service into its
  // internal "intercept" handler, so its dump shows no server. tsinetd does not implement
  // INTERCEPT (a warning says it is ignored) and keeps the server program (the RPC service is
  // not started anyway: it has a "not supported" problem).
  '030-debian-example-sample.conf': 'INTERCEPT turns the service internal in xinetd',
};

interface ExpectedService {
  id: string;
  socket_type: string;
  protocol: string;
  port?: number | null;
  wait: boolean;
  server?: string | null;
  server_argv?: string[] | null;
}

interface ExpectedRun {
  layout: string;
  services: ExpectedService[] | null;
}

interface Expected {
  file: string;
  runs: { provisioned: ExpectedRun | null; as_is: ExpectedRun | null };
}

type Row = string;

function row(id: string, socketType: string, protocol: string, port: number | null, wait: boolean, server: string | null, argv: readonly string[]): Row {
  return JSON.stringify([id, socketType, protocol, port, wait, server, argv]);
}

function ours(s: Service): Row {
  return row(s.id, s.socket_type, s.protocol, s.port, s.wait, s.server, s.server_argv);
}

function theirs(s: ExpectedService): Row {
  return row(s.id, s.socket_type, s.protocol, s.port ?? null, s.wait, s.server ?? null, s.server_argv ?? []);
}

/**
 * Lays the file out as the oracle did: a service file goes into a directory read by `includedir`
 * from a generated top-level file (`defaults {}` + includedir on line 5), under a name without a
 * dot (includedir skips such names); a top-level file is the main file. Absolute include paths of
 * top-level files (/etc/xinetd.d...) are redirected into the empty temporary directory so that
 * the test does not read this machine's /etc.
 */
function layOut(dir: string, source: string, layout: string): string {
  if (layout.startsWith('service file')) {
    const d = join(dir, 'xinetd.d');
    mkdirSync(d);
    copyFileSync(source, join(d, 'service'));
    const main = join(dir, 'xinetd.conf');
    writeFileSync(main, `defaults\n{\n}\n\nincludedir ${d}\n`);
    return main;
  }
  const main = join(dir, 'xinetd.conf');
  const text = readFileSync(source, 'utf8').replace(
    /^([ \t]*include(?:dir)?[ \t]+)(\/\S*)/gim,
    (_m, head: string, path: string) => `${head}${join(dir, 'empty')}${path}`,
  );
  writeFileSync(main, text);
  return main;
}

test('xinetd corpus: enabled services match what real xinetd kept', { skip: SKIP }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'tsinetd-corpus-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const files = readdirSync(join(CORPUS, 'expected', 'xinetd'))
    .filter((f) => f.endsWith('.json'))
    .sort();
  assert.ok(files.length > 50, `expected the corpus to have many files, found ${files.length}`);

  const mismatches: string[] = [];
  const exceptionsSeen = new Set<string>();
  let comparable = 0;
  let matching = 0;
  for (const [n, f] of files.entries()) {
    const expected = JSON.parse(readFileSync(join(CORPUS, 'expected', 'xinetd', f), 'utf8')) as Expected;
    const run = expected.runs.provisioned ?? expected.runs.as_is;
    if (run === null || run.services === null) continue;
    const name = expected.file.replace(/^xinetd\//, '');
    const dir = join(work, String(n));
    mkdirSync(dir);
    const main = layOut(dir, join(CORPUS, expected.file), run.layout);
    const table = await loadConfig({ configFile: main, inetdFiles: [] });
    comparable++;
    const got = table.services
      .filter((s) => s.enabled)
      .map(ours)
      .sort();
    const want = run.services.map(theirs).sort();
    if (JSON.stringify(got) === JSON.stringify(want)) {
      matching++;
      if (name in KNOWN_EXCEPTIONS) mismatches.push(`${name}: listed as a known exception but now matches: take it off the list`);
      continue;
    }
    const diff = [
      ...got.filter((r) => !want.includes(r)).map((r) => `  tsinetd only: ${r}`),
      ...want.filter((r) => !got.includes(r)).map((r) => `  xinetd only:  ${r}`),
    ];
    if (name in KNOWN_EXCEPTIONS) {
      exceptionsSeen.add(name);
      t.diagnostic(`known exception ${name} (${KNOWN_EXCEPTIONS[name]}):\n${diff.join('\n')}`);
      continue;
    }
    mismatches.push(`${name}:\n${diff.join('\n')}`);
  }
  for (const name of Object.keys(KNOWN_EXCEPTIONS)) {
    if (!exceptionsSeen.has(name) && !mismatches.some((m) => m.startsWith(name)))
      mismatches.push(`${name}: a known exception that is not in the corpus any more`);
  }
  t.diagnostic(`${matching} of ${comparable} files match; ${Object.keys(KNOWN_EXCEPTIONS).length} known exception(s)`);
  assert.deepEqual(mismatches, [], `files that differ from real xinetd:\n${mismatches.join('\n')}`);
  assert.ok(matching / comparable >= 0.95, `only ${matching} of ${comparable} files match (at least 95% must)`);
});

test('xinetd corpus: every file loads without a throw, and every diagnostic is located in a read file', { skip: SKIP }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'tsinetd-corpus-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  for (const f of readdirSync(join(CORPUS, 'xinetd')).sort()) {
    const dir = join(work, f);
    mkdirSync(dir);
    const main = layOut(dir, join(CORPUS, 'xinetd', f), 'service file');
    const table = await loadConfig({ configFile: main, inetdFiles: [] });
    for (const d of table.diagnostics) {
      assert.ok(table.files.includes(d.file), `${f}: diagnostic in an unread file ${d.file}`);
      assert.ok(d.line >= 1 && d.column >= 1, `${f}: ${d.line}:${d.column}`);
      assert.doesNotMatch(d.message, /\bat .*\.js:\d+/, `${f}: a stack trace in a message`);
    }
  }
});
