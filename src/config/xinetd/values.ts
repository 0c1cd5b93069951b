// Value parsers: the words of one attribute line → a typed value, or a located error.
//
// Each parser checks what xinetd's parsers.c checks (same accepted forms, compared without regard
// to case as the Debian build does) and says what was expected. The grammar's value rules do the
// character-level work (src/config/xinetd/parse.ts); this module handles value counts, enumerations and the
// relations between values.

import { editDistance } from './attribute-words.js';
import { cParseInt, NUMBER_READERS, type NumericAttribute } from './numbers.js';
import { diag, type Diagnostic } from '../../diagnostics.js';
import { parseWord, parseWords } from './parse.js';
import type { SysDb } from '../../sys/sysdb.js';
import type { LogTarget, TimeInterval } from '../../table.js';
import type { ValueRule, ValueRules, Word } from './syntax.js';
import { present } from '../../util/invariant.js';

/**
 * A parsed value, or an error. `partial` is what xinetd's parser had already stored when it met
 * the bad word (list parsers store word by word); it stays in force if a later `disable = no`
 * re-enables the service.
 */
export type Parsed<T> = { ok: true; value: T; warnings: Diagnostic[] } | { ok: false; error: Diagnostic; warnings: Diagnostic[]; partial?: T };

const ok = <T>(value: T, warnings: Diagnostic[] = []): Parsed<T> => ({ ok: true, value, warnings });
const fail = <T>(error: Diagnostic, warnings: Diagnostic[] = [], partial?: T): Parsed<T> =>
  partial === undefined ? { ok: false, error, warnings } : { ok: false, error, warnings, partial };

function at(w: Word): { file: string; line: number; column: number } {
  return { file: w.loc.file, line: w.loc.line, column: w.loc.column };
}

/** Advice when a value list contains a word starting with '#'. */
export function commentHint(words: readonly Word[]): string {
  return words.some((w) => w.text.startsWith('#')) ? " ('#' starts a comment only at the beginning of a line: here it and the words after it are values)" : '';
}

/** One word through a value grammar; errors read "bad value for 'attr': ...". */
export function single<R extends ValueRule>(rule: R, word: Word, attribute: string): Parsed<ValueRules[R]> {
  const r = parseWord(rule, word);
  if (r.ok) return ok(r.value);
  return fail({ ...r.diagnostic, code: 'bad-value', message: `bad value for '${attribute}': ${r.diagnostic.message}` });
}

/** Words (at least one) that must each be one of `choices` (case-insensitive); returns the canonical spellings. */
export function enumList(words: readonly Word[], choices: readonly string[], attribute: string, what: string): Parsed<string[]> {
  const out: string[] = [];
  for (const w of words) {
    const c = choices.find((x) => x.toLowerCase() === w.text.toLowerCase());
    if (c === undefined) {
      const near = choices.find((x) => editDistance(x.toLowerCase(), w.text.toLowerCase()) <= 2);
      const hint = near === undefined || w.text.startsWith('#') ? '' : ` (did you mean '${near}'?)`;
      return fail(
        diag(
          'unknown-value',
          'error',
          at(w),
          `unknown ${what} '${w.text}' in '${attribute}'${hint}: expected ${choices.join(', ')}${commentHint(words)}`,
          w.text.length,
        ),
        [],
        out,
      );
    }
    if (!out.includes(c)) out.push(c);
  }
  return ok(out);
}

type NumberValue<A extends NumericAttribute> = (typeof NUMBER_READERS)[A] extends { read(t: string): { ok: true; value: infer T } | { ok: false } } ? T : never;

/** One word of a numeric attribute, read as xinetd reads it (src/config/xinetd/numbers.ts); notes become warnings. */
export function numberWord<A extends NumericAttribute>(attribute: A, word: Word): Parsed<NumberValue<A>> {
  const r = (NUMBER_READERS[attribute] as { read(t: string): { ok: true; value: NumberValue<A>; notes: string[] } | { ok: false; message: string } }).read(
    word.text,
  );
  if (!r.ok) return fail(diag('bad-value', 'error', at(word), `bad value for '${attribute}': ${r.message}`, word.text.length));
  return ok(
    r.value,
    r.notes.map((n) => diag('value-note', 'warning', at(word), `${attribute}: ${n}`, word.text.length)),
  );
}

/** yes / no */
export function yesNo(word: Word, attribute: string): Parsed<boolean> {
  return single('YesNo', word, attribute);
}

/** access_times: one or more h:mm-h:mm intervals. */
export function accessTimes(words: readonly Word[]): Parsed<TimeInterval[]> {
  const out: TimeInterval[] = [];
  for (const w of words) {
    const r = single('TimeInterval', w, 'access_times');
    if (!r.ok) return fail({ ...r.error, message: r.error.message + commentHint(words) }, [], out);
    out.push(r.value);
  }
  return ok(out);
}

/** xinetd's hard limit when only the soft one is given: soft + 1%, the extra within 5K..20K. */
export function defaultHardLimit(soft: number): number {
  const extra = Math.min(Math.max(Math.floor(soft / 100), 5 * 1024), 20 * 1024);
  return soft + extra;
}

/** Value `i` of an attribute: the caller has counted them (build-attributes.ts, and the checks above each use). */
function counted(words: readonly Word[], i: number): Word {
  return present(words[i], `value ${i + 1}, counted before`);
}

/** log_type = FILE path [soft [hard]] | SYSLOG facility [level] */
export function logType(words: readonly Word[]): Parsed<LogTarget> {
  const first = counted(words, 0);
  const kind = first.text.toUpperCase();
  if (kind === 'FILE' && (words.length < 2 || words.length > 4)) {
    return fail(
      diag(
        'bad-value',
        'error',
        at(first),
        `log_type FILE expects a file name and at most two size limits: FILE path [soft [hard]]${commentHint(words)}`,
        first.text.length,
      ),
    );
  }
  if (kind === 'SYSLOG' && (words.length < 2 || words.length > 3)) {
    return fail(
      diag(
        'bad-value',
        'error',
        at(first),
        `log_type SYSLOG expects a facility and at most a level: SYSLOG facility [level]${commentHint(words)}`,
        first.text.length,
      ),
    );
  }
  const r = parseWords('LogType', words);
  if (!r.ok) {
    const message = kind === 'FILE' || kind === 'SYSLOG' ? r.diagnostic.message : `expected FILE or SYSLOG, found '${first.text}'`;
    return fail({ ...r.diagnostic, code: 'bad-value', message: `bad value for 'log_type': ${message}` });
  }
  const v = r.value;
  if (v.kind === 'syslog') return ok({ kind: 'syslog', facility: v.facility, level: v.level });
  const warnings: Diagnostic[] = [];
  const sizes: number[] = [];
  for (const w of words.slice(2)) {
    const n = numberWord('log_type', w);
    if (!n.ok) return fail(n.error, n.warnings);
    sizes.push(n.value);
    warnings.push(...n.warnings);
  }
  const [soft = null, given = null] = sizes;
  if (!v.path.startsWith('/')) {
    warnings.push(
      diag(
        'relative-path',
        'warning',
        at(counted(words, 1)),
        `log file '${v.path}' is a relative path: it is opened relative to the daemon's working directory`,
        v.path.length,
      ),
    );
  }
  if (soft !== null && given !== null && given < soft) {
    const w = counted(words, 3);
    return fail(
      diag('bad-value', 'error', at(w), `bad value for 'log_type': the hard limit (${given} bytes) is less than the soft limit (${soft} bytes)`, w.text.length),
    );
  }
  const hard = soft === null ? null : (given ?? defaultHardLimit(soft));
  return ok({ kind: 'file', path: v.path, soft, hard }, warnings);
}

/** redirect = host port */
export function redirect(words: readonly Word[], db: SysDb): Parsed<{ host: string; port: number }> {
  const [hostWord, portWord] = [counted(words, 0), counted(words, 1)];
  const host = single('HostAddress', hostWord, 'redirect');
  if (!host.ok) return fail(host.error, host.warnings);
  const warnings: Diagnostic[] = [];
  let port: number;
  // xinetd looks a word up in /etc/services unless parse_base10 reads a number above 0 from it.
  const number = cParseInt(portWord.text);
  if (number.ok && number.value > 0) {
    const read = numberWord('redirect', portWord);
    if (!read.ok) return fail(read.error, read.warnings);
    port = read.value;
    warnings.push(...read.warnings);
  } else {
    const entry = db.serviceByName(portWord.text, 'tcp');
    if (entry === undefined) {
      return fail(
        diag(
          'bad-value',
          'error',
          at(portWord),
          `bad value for 'redirect': '${portWord.text}' is neither a port number (1-65535) nor a tcp service of /etc/services`,
          portWord.text.length,
        ),
      );
    }
    port = entry.port;
  }
  return ok({ host: hostWord.text, port }, warnings);
}

/** env = NAME=value ... */
export function envEntries(words: readonly Word[]): Parsed<string[]> {
  for (const [i, w] of words.entries()) {
    if (!w.text.includes('=')) {
      const before = words.slice(0, i).map((x) => x.text);
      return fail(
        diag('bad-value', 'error', at(w), `bad value for 'env': '${w.text}' has no '=': expected NAME=value${commentHint(words)}`, w.text.length),
        [],
        before,
      );
    }
  }
  return ok(words.map((w) => w.text));
}

/** cps = connections-per-second seconds-off */
export function cps(words: readonly Word[]): Parsed<[number, number]> {
  const a = numberWord('cps', counted(words, 0));
  if (!a.ok) return fail(a.error, a.warnings);
  const b = numberWord('cps', counted(words, 1));
  if (!b.ok) return fail(b.error, b.warnings);
  return ok([a.value, b.value], [...a.warnings, ...b.warnings]);
}

/** per_source_cps = rate burst (tsinetd extension: a token bucket per source address) */
export function perSourceCps(words: readonly Word[]): Parsed<[number, number]> {
  const [rw, bw] = [counted(words, 0), counted(words, 1)];
  const rate = single('Decimal', rw, 'per_source_cps');
  if (!rate.ok) return fail(rate.error, rate.warnings);
  if (!(rate.value > 0) || !Number.isFinite(rate.value)) {
    return fail(
      diag('bad-value', 'error', at(rw), `bad value for 'per_source_cps': the rate (connections per second) must be a number above 0`, rw.text.length),
    );
  }
  const burst = single('Count', bw, 'per_source_cps');
  if (!burst.ok) return fail(burst.error, burst.warnings);
  if (burst.value < 1) {
    return fail(diag('bad-value', 'error', at(bw), `bad value for 'per_source_cps': the burst must be at least 1`, bw.text.length));
  }
  return ok([rate.value, burst.value]);
}

/** max_load: xinetd refuses a client when the load average is at or above it (any value but 0). */
export function maxLoad(word: Word): Parsed<number> {
  return numberWord('max_load', word);
}
