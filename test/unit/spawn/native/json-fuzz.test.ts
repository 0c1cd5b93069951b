// The spawn helper's JSON reader and writer (native/json.c) under AddressSanitizer and
// UndefinedBehaviorSanitizer: native/fuzz/json-fuzz.c parses mutated requests and round-trips
// random strings for a bounded number of inputs and seconds. Skipped when no C compiler with
// the sanitizers' libraries is installed (Debian's gcc brings them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../../../helpers/temp.js';

const ROOT = fileURLToPath(new URL('../../../../..', import.meta.url));
const SANITIZE = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer'];
const SEED = Number(process.env['TSINETD_FUZZ_SEED'] ?? Date.now() % 100_000);
const ITERATIONS = 150_000;
const SECONDS = 12;

/** A compiler that builds and runs a sanitized program here, or why there is none. */
function sanitizingCompiler(dir: string): { cc: string } | { skip: string } {
  const probe = join(dir, 'probe.c');
  writeFileSync(probe, 'int main(void) { return 0; }\n');
  const tried: string[] = [];
  for (const cc of [process.env['CC'], 'gcc', 'clang', 'cc'].filter((c): c is string => c !== undefined && c !== '')) {
    const out = join(dir, 'probe');
    const r = spawnSync(cc, [...SANITIZE, '-o', out, probe], { encoding: 'utf8', timeout: 30_000 });
    if (r.error || r.status !== 0) {
      tried.push(`${cc}: ${r.error ? 'not found' : 'no sanitizer libraries'}`);
      continue;
    }
    if (spawnSync(out, [], { timeout: 10_000 }).status === 0) return { cc };
    tried.push(`${cc}: sanitized programs do not run here`);
  }
  return { skip: `no compiler with ASan/UBSan (${tried.join('; ')})` };
}

test('json.c survives a bounded fuzz run under ASan and UBSan, and writes strings that read back', { timeout: 60_000 }, (t) => {
  const dir = tempDir(t, 'json-fuzz');
  const found = sanitizingCompiler(dir);
  if ('skip' in found) {
    t.skip(found.skip);
    return;
  }
  const bin = join(dir, 'json-fuzz');
  const native = join(ROOT, 'native');
  const build = spawnSync(
    found.cc,
    [
      '-std=c11',
      '-D_GNU_SOURCE',
      '-O1',
      '-g',
      '-Wall',
      '-Wextra',
      '-Werror',
      ...SANITIZE,
      '-o',
      bin,
      join(native, 'fuzz', 'json-fuzz.c'),
      join(native, 'json.c'),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(build.status, 0, build.stderr);
  const run = spawnSync(bin, [String(SEED), String(ITERATIONS), String(SECONDS)], {
    encoding: 'utf8',
    timeout: (SECONDS + 20) * 1000,
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' },
  });
  assert.equal(run.status, 0, `seed ${SEED} (TSINETD_FUZZ_SEED=${SEED} repeats it): ${run.stderr.slice(0, 4000)}`);
  const m = /^inputs (\d+) parsed (\d+)$/m.exec(run.stdout);
  assert.ok(m, run.stdout);
  // Enough inputs to mean something even on a busy machine, and both outcomes reached.
  assert.ok(Number(m[1]) >= 5_000, `only ${m[1]} inputs in ${SECONDS} s`);
  assert.ok(Number(m[2]) > 0 && Number(m[2]) < Number(m[1]), `parsed ${m[2]} of ${m[1]}`);
});
