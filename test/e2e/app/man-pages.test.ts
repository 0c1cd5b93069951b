// The man pages in man/ render without a single warning: each is formatted with
// `man --warnings -l` (groff's -ww: every warning class), or with `groff -ww -mandoc -z` where
// man(1) is missing, and anything on standard error fails the test. Skipped when neither
// program is installed. Also checks that tsinetd.8's OPTIONS list exactly the options of the
// commander definition (cli.ts), with their arguments, choices and defaults, and names the
// signals; that tsinetd.log.5 lists exactly the FAIL reasons the code writes and the daemon
// message codes (message-codes.ts), and tsinetd.conf.5 exactly the diagnostic codes
// (diagnostic-codes.ts), so that the documentation cannot silently fall behind the code.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FAIL_REASONS } from '../../../src/admission/admission-types.js';
import { ENV_NAMES } from '../../../src/app/options.js';
import type { Option } from 'commander';
import { commandLineProgram, XINETD_LONG_FLAGS } from '../../../src/app/cli.js';
import { DIAGNOSTIC_CODES } from '../../../src/diagnostic-codes.js';
import { MESSAGE_CODES } from '../../../src/message-codes.js';
import { ROOT } from '../../helpers/daemon.js';

const MAN_DIR = join(ROOT, 'man');
const PAGES = readdirSync(MAN_DIR)
  .filter((f) => /\.[1-9]$/.test(f))
  .sort();

function works(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

const hasMan = works('man', ['--version']);
const hasGroff = works('groff', ['--version']);
const renderer = hasMan ? 'man' : hasGroff ? 'groff' : null;

/** Formats a page; returns what the formatter wrote on stdout and stderr. */
function render(page: string): { status: number | null; stdout: string; stderr: string } {
  const path = join(MAN_DIR, page);
  const env = { ...process.env, LC_ALL: 'C', MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat' };
  const r =
    renderer === 'man'
      ? spawnSync('man', ['--warnings', '-l', path], { encoding: 'utf8', env, timeout: 30_000 })
      : spawnSync('groff', ['-ww', '-mandoc', '-Tutf8', path], { encoding: 'utf8', env, timeout: 30_000 });
  // null when the program could not run, whatever the typings say
  const stdout = (r.stdout as string | null) ?? '';
  const stderr = (r.stderr as string | null) ?? '';
  return { status: r.status, stdout, stderr };
}

describe('man pages', { skip: renderer === null ? 'neither man(1) nor groff(1) is installed' : false }, () => {
  test('there are pages to check', () => {
    assert.deepEqual(PAGES, ['tsinetd.8', 'tsinetd.conf.5', 'tsinetd.log.5']);
  });

  for (const page of PAGES) {
    test(`${page} renders without warnings`, () => {
      const r = render(page);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '', `warnings while rendering ${page}:\n${r.stderr}`);
      assert.ok(r.stdout.length > 1000, `${page} rendered to almost nothing`);
    });
  }

  test('tsinetd.8 documents every signal, variable and section', () => {
    // The options: see the OPTIONS test below, against the commander definition.
    // eslint-disable-next-line no-control-regex -- removes the backspace overstrikes of a rendered man page
    const text = render('tsinetd.8').stdout.replace(/.\x08/g, '');
    for (const s of ['SIGHUP', 'SIGUSR2', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGABRT', 'SIGIOT'])
      assert.ok(text.includes(s), `tsinetd.8 mentions ${s}`);
    for (const e of ['REMOTE_HOST', 'TSINETD_SPAWNER', 'TSINETD_SYSLOG_SOCKET', 'TSINETD_SYSLOG_IDENT', 'TSINETD_IDENT_PORT']) {
      assert.ok(text.includes(e), `tsinetd.8 mentions ${e}`);
    }
    for (const h of ['EXIT STATUS', 'FILES', 'ENVIRONMENT', 'COMPATIBILITY', 'BUGS']) assert.ok(text.includes(`\n${h}\n`), `tsinetd.8 has a ${h} section`);
  });

  test('every TSINETD_* variable the code reads (options.ts fromEnv) or names is documented in a page', () => {
    // The variables fromEnv() reads, and any TSINETD_ word in the sources at any depth (comments,
    // messages, the helper's own variable), so that a name cannot be mentioned undocumented either.
    const names = new Set<string>(Object.values(ENV_NAMES));
    const files = sourceFiles(join(ROOT, 'src'));
    assert.ok(files.length >= 60, `only ${files.length} sources found`);
    for (const f of files) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\b(TSINETD_[A-Z0-9_]+)\b/g)) names.add(m[1]!);
    }
    // Names of constants, not of variables.
    names.delete('TSINETD_BUILTINS');
    assert.ok(names.size >= Object.keys(ENV_NAMES).length);
    const pages = PAGES.map((p) => readFileSync(join(MAN_DIR, p), 'utf8')).join('\n');
    for (const n of names) assert.ok(new RegExp(`\\bEv ${n}\\b`).test(pages), `${n} is documented (.Ev ${n})`);
  });
});

/** The .ts files under `dir`, at any depth. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

/** The reasons tsinetd.log.5 lists under FAIL: the `.Li` words from "The reasons are" to the end of that sentence. */
function documentedFailReasons(): string[] {
  const page = readFileSync(join(MAN_DIR, 'tsinetd.log.5'), 'utf8');
  const item = page.slice(page.indexOf('.It Li FAIL:'));
  const lines = item.slice(item.indexOf('The reasons are')).split('\n');
  const out: string[] = [];
  for (const line of lines) {
    const m = /^\.Li (.+?)( [,.])?$/.exec(line);
    if (m === null) continue;
    out.push(m[1]!);
    if (m[2] === ' .') break;
  }
  return out;
}

test('tsinetd.log.5 lists exactly the FAIL reasons, and the code writes each of them', () => {
  assert.deepEqual([...documentedFailReasons()].sort(), [...FAIL_REASONS].sort());
  // A reason is written where a Decision or a FAIL event is made with it as a literal.
  const written = new Set<string>();
  for (const f of sourceFiles(join(ROOT, 'src'))) {
    if (f.endsWith('admission-types.ts')) continue;
    for (const m of readFileSync(f, 'utf8').matchAll(/\breason: '([^']+)'\s*[,}]/g)) written.add(m[1]!);
  }
  assert.deepEqual(
    FAIL_REASONS.filter((r) => !written.has(r)),
    [],
    'reasons no code writes',
  );
});

/** The codes tsinetd.conf.5 lists under "Diagnostic codes", with the severities given for each. */
function documentedCodes(): Map<string, string[]> {
  const page = readFileSync(join(MAN_DIR, 'tsinetd.conf.5'), 'utf8');
  const section = page.slice(page.indexOf('.Ss Diagnostic codes'));
  const list = section.slice(section.indexOf('.Bl -tag'), section.indexOf('\n.El'));
  const out = new Map<string, string[]>();
  for (const m of list.matchAll(/^\.It Li (\S+)\n\(([a-z, ]+)\) /gm)) out.set(m[1]!, m[2]!.split(', '));
  return out;
}

test('tsinetd.conf.5 lists exactly the diagnostic codes, at their severities, and the code emits each of them', () => {
  const documented = documentedCodes();
  assert.deepEqual([...documented.keys()].sort(), Object.keys(DIAGNOSTIC_CODES).sort());
  for (const [code, row] of Object.entries(DIAGNOSTIC_CODES)) assert.deepEqual(documented.get(code), [...row.severities], `severities of ${code}`);
  // A code is emitted where a diagnostic is made with it as a literal (diag('code', ...),
  // finding('code', ...), code: 'code').
  const used = new Set<string>();
  for (const f of sourceFiles(join(ROOT, 'src'))) {
    if (f.endsWith('diagnostic-codes.ts')) continue;
    for (const m of readFileSync(f, 'utf8').matchAll(/'([a-z][a-z-]*)'/g)) used.add(m[1]!);
  }
  assert.deepEqual(
    Object.keys(DIAGNOSTIC_CODES).filter((c) => !used.has(c)),
    [],
    'codes no code emits',
  );
});

/** One option as tsinetd.8 writes it: the flag (`-filelog`, `--check`) and its argument (`<file>`, `{text|json}`, or ''). */
type OptionRows = Map<string, string>;

/**
 * The options tsinetd.8 lists under OPTIONS, read from each `.It` line of the list: `Fl X`
 * starts a flag, `Ar` words are its argument, `Cm a | b` its choices, `,` and `Op` separate
 * flags. Also the text of each entry, keyed by its flags.
 */
function documentedOptions(): { rows: OptionRows; text: Map<string, string> } {
  const page = readFileSync(join(MAN_DIR, 'tsinetd.8'), 'utf8');
  const section = page.slice(page.indexOf('\n.Sh OPTIONS'), page.indexOf('\n.Sh SIGNALS'));
  const list = section.slice(section.indexOf('\n.Bl -tag'), section.lastIndexOf('\n.El'));
  const rows: OptionRows = new Map();
  const text = new Map<string, string>();
  for (const entry of list.split('\n.It ').slice(1)) {
    const [head, ...body] = entry.split('\n');
    let flag: string | null = null;
    let words: string[] = [];
    let mode: 'Fl' | 'Ar' | 'Cm' | null = null;
    const flush = (): void => {
      if (flag === null) return;
      assert.ok(!rows.has(flag), `tsinetd.8 lists ${flag} once`);
      rows.set(flag, mode === 'Cm' ? `{${words.join('|')}}` : words.length > 0 ? `<${words.join(' ')}>` : '');
      text.set(flag, body.join('\n'));
      flag = null;
      words = [];
    };
    for (const t of head!.split(/\s+/)) {
      if (t === 'Fl') {
        flush();
        mode = 'Fl';
      } else if (t === 'Ar' || t === 'Cm') {
        mode = t;
      } else if (t === ',' || t === 'Op') {
        flush();
        mode = null;
      } else if (mode === 'Fl') {
        flag = '-' + t;
        mode = null;
      } else if ((mode === 'Ar' || mode === 'Cm') && t !== '|') {
        words.push(t);
      }
    }
    flush();
  }
  return { rows, text };
}

/** How tsinetd.8 spells a commander flag: xinetd's own long flags with one dash, as xinetd writes them. */
function manSpelling(flag: string): string {
  return flag.startsWith('--') && XINETD_LONG_FLAGS.has(flag.slice(2)) ? flag.slice(1) : flag;
}

/** The options of the commander definition, as tsinetd.8 should list them. */
function commanderOptions(): { rows: OptionRows; options: Map<string, Option> } {
  const program = commandLineProgram({ stdout: () => {}, stderr: () => {}, stderrIsTty: false });
  const rows: OptionRows = new Map();
  const options = new Map<string, Option>();
  for (const o of program.createHelp().visibleOptions(program)) {
    const arg = /<([^>]+)>/.exec(o.flags)?.[1]?.replace(/\.\.\.$/, '');
    const shown = o.argChoices !== undefined ? `{${o.argChoices.join('|')}}` : arg !== undefined ? `<${arg}>` : '';
    // With a short and a long name, the argument is written after the long one.
    if (o.short !== undefined) rows.set(o.short, o.long === undefined ? shown : '');
    if (o.long !== undefined) rows.set(manSpelling(o.long), shown);
    options.set(manSpelling(o.long ?? o.short!), o);
  }
  return { rows, options };
}

test("tsinetd.8's OPTIONS list exactly the commander options, with their arguments, choices and defaults", () => {
  const documented = documentedOptions();
  const defined = commanderOptions();
  // Not vacuous: both sides found the options.
  assert.ok(defined.rows.size >= 30 && documented.rows.size >= 30, `${defined.rows.size} defined, ${documented.rows.size} documented`);
  assert.deepEqual(
    [...documented.rows.keys()].filter((f) => !defined.rows.has(f)),
    [],
    'tsinetd.8 lists options the command line does not have',
  );
  assert.deepEqual(
    [...defined.rows.keys()].filter((f) => !documented.rows.has(f)),
    [],
    'options missing from tsinetd.8',
  );
  for (const [flag, arg] of defined.rows) assert.equal(documented.rows.get(flag), arg, `the argument of ${flag}`);
  for (const [flag, o] of defined.options) {
    assert.ok(o.description.length > 0, `${flag} has a --help line`);
    if (typeof o.defaultValue === 'string') {
      assert.ok(documented.text.get(flag)?.includes(o.defaultValue), `tsinetd.8 gives the default of ${flag} (${o.defaultValue})`);
    }
  }
});

/** The codes tsinetd.log.5 lists under "Message codes", each with its line: "(levels[; xinetd's words]) meaning". */
function documentedMessageCodes(): Map<string, string> {
  const page = readFileSync(join(MAN_DIR, 'tsinetd.log.5'), 'utf8');
  const section = page.slice(page.indexOf('.Ss Message codes'));
  const list = section.slice(section.indexOf('.Bl -tag'), section.indexOf('\n.El'));
  const out = new Map<string, string>();
  for (const m of list.matchAll(/^\.It Li (\S+)\n(.*)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

test('tsinetd.log.5 lists exactly the message codes, with their levels, words and meaning, and the sources use each', () => {
  const documented = documentedMessageCodes();
  assert.deepEqual([...documented.keys()].sort(), Object.keys(MESSAGE_CODES).sort());
  for (const [code, row] of Object.entries(MESSAGE_CODES)) {
    const words = row.text === 'xinetd' ? "; xinetd's words" : '';
    assert.equal(documented.get(code), `(${row.levels.join(', ')}${words}) ${row.meaning}`, `the line of ${code}`);
  }
  // A code is used where a message is made with it as the first argument, a literal (or one of
  // two in a conditional): daemon('code', ...), daemonMessage('code', ...), onProblem('code', ...)...
  const used = new Set<string>();
  const call = /\b(?:daemon|log|onProblem|onNotice\?\.|abort|daemonMessage)\(\s*(?:[^,()']*\?\s*)?'([a-z-]+)'(?:\s*:\s*'([a-z-]+)')?/g;
  for (const f of sourceFiles(join(ROOT, 'src'))) {
    if (f.endsWith('message-codes.ts')) continue;
    for (const m of readFileSync(f, 'utf8').matchAll(call)) for (const c of [m[1], m[2]]) if (c !== undefined) used.add(c);
  }
  assert.deepEqual(
    Object.keys(MESSAGE_CODES).filter((c) => !used.has(c)),
    [],
    'codes no code uses',
  );
});
