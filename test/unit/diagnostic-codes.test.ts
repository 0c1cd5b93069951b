// Every diagnostic the loaders give on the fixtures carries a code of the catalogue
// (diagnostic-codes.ts), at one of the severities the catalogue gives for it. The catalogue
// against the man page, both ways, is checked in test/e2e/man-pages.test.ts.

import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { loadXinetdConfig } from '../../src/config/config.js';
import { DIAGNOSTIC_CODES, type DiagnosticCode } from '../../src/diagnostic-codes.js';
import type { Diagnostic, Severity } from '../../src/diagnostics.js';
import { lintHostsTable } from '../../src/admission/wrappers/hosts-lint.js';
import { parseHostsFile } from '../../src/admission/wrappers/hosts-syntax.js';
import { loadInetdFile } from '../../src/config/inetd/inetd.js';
import { parseConfigText } from '../../src/config/xinetd/parse.js';

const FIXTURES = join(fileURLToPath(new URL('../../../', import.meta.url)), 'fixtures', 'conf');

function confFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'etc' ? [] : confFiles(p);
    return n.endsWith('.conf') ? [p] : [];
  });
}

function checkSeverities(diagnostics: readonly Diagnostic[], seen: Map<DiagnosticCode, Set<Severity>>): void {
  for (const d of diagnostics) {
    // A code missing from the catalogue reads as undefined at run time, whatever the types say.
    const row = (DIAGNOSTIC_CODES as Partial<typeof DIAGNOSTIC_CODES>)[d.code];
    assert.ok(row !== undefined, `${d.file}:${d.line}: code ${d.code} is in the catalogue`);
    assert.ok(
      (row.severities as readonly Severity[]).includes(d.severity),
      `${d.file}:${d.line}: ${d.code} at severity ${d.severity} (catalogue: ${row.severities.join(', ')}): ${d.message}`,
    );
    const s = seen.get(d.code) ?? new Set<Severity>();
    s.add(d.severity);
    seen.set(d.code, s);
  }
}

test('the diagnostics of the fixture configurations carry catalogue codes at catalogue severities', () => {
  const seen = new Map<DiagnosticCode, Set<Severity>>();
  for (const f of [...confFiles(join(FIXTURES, 'xinetd')), ...confFiles(join(FIXTURES, 'bad'))]) {
    checkSeverities(loadXinetdConfig(f).diagnostics, seen);
  }
  for (const f of [...confFiles(join(FIXTURES, 'inetd')), ...confFiles(join(FIXTURES, 'convert'))]) {
    checkSeverities(loadInetdFile(f).diagnostics, seen);
  }
  // Not vacuous: the bad fixtures give problems of many kinds.
  assert.ok(seen.size >= 20, `codes seen: ${[...seen.keys()].join(' ')}`);
});

test('syntax and hosts files: the codes of a few located problems', () => {
  const codes = (ds: readonly Diagnostic[]): string[] => ds.map((d) => `${d.line}:${d.code}`);
  const x = parseConfigText('service a\n{\n\tport 7\n}\nservice b {\n}\n', 'x.conf');
  assert.deepEqual(codes(x.diagnostics), ['3:bad-line', '5:brace-placement']);
  const seen = new Map<DiagnosticCode, Set<Severity>>();
  const hosts = parseHostsFile('hosts.allow', 'in.telnetd 10.0.0.1\nALL: [::1/200]\nALL EXCEPT sshd: ALL\n');
  const all = [...hosts.diagnostics, ...lintHostsTable(hosts)];
  checkSeverities(all, seen);
  assert.ok(
    all.some((d) => d.line === 1 && d.code === 'hosts-syntax'),
    JSON.stringify(all),
  );
});
