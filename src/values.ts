// Value parsers: the words of one attribute line → a typed value, or a located error.
//
// Each parser checks what xinetd's parsers.c checks (same accepted forms, compared without regard
// to case as the Debian build does) and says what was expected. The grammar's value rules do the
// character-level work (src/parse.ts); this module handles value counts, enumerations and the
// relations between values.

import { editDistance } from './attributes.js';
import { diag, type Diagnostic } from './diagnostics.js';
import { parseWord, parseWords } from './parse.js';
import type { SysDb } from './sysdb.js';
import type { LogTarget, TimeInterval } from './table.js';
import type { ValueRule, ValueRules, Word } from './syntax.js';

export type Parsed<T> = { ok: true; value: T; warnings: Diagnostic[] } | { ok: false; error: Diagnostic; warnings: Diagnostic[] };

const ok = <T>(value: T, warnings: Diagnostic[] = []): Parsed<T> => ({ ok: true, value, warnings });
const fail = <T>(error: Diagnostic, warnings: Diagnostic[] = []): Parsed<T> => ({ ok: false, error, warnings });

function at(w: Word): { file: string; line: number; column: number } {
  return { file: w.loc.file, line: w.loc.line, column: w.loc.column };
}

/** Advice when a value list contains a word starting with '#'. */
export function commentHint(words: readonly Word[]): string {
  return words.some((w) => w.text.startsWith('#'))
    ? " ('#' starts a comment only at the beginning of a line: here it and the words after it are values)"
    : '';
}

/** One word through a value grammar; errors read "bad value for 'attr': ...". */
export function single<R extends ValueRule>(rule: R, word: Word, attribute: string): Parsed<ValueRules[R]> {
  const r = parseWord(rule, word);
  if (r.ok) return ok(r.value);
  return fail({ ...r.diagnostic, message: `bad value for '${attribute}': ${r.diagnostic.message}` });
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
        diag('error', at(w), `unknown ${what} '${w.text}' in '${attribute}'${hint}: expected ${choices.join(', ')}${commentHint(words)}`, w.text.length),
      );
    }
    if (!out.includes(c)) out.push(c);
  }
  return ok(out);
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
    if (!r.ok) return fail({ ...r.error, message: r.error.message + commentHint(words) });
    out.push(r.value);
  }
  return ok(out);
}

/** xinetd's hard limit when only the soft one is given: soft + 1%, the extra within 5K..20K. */
export function defaultHardLimit(soft: number): number {
  const extra = Math.min(Math.max(Math.floor(soft / 100), 5 * 1024), 20 * 1024);
  return soft + extra;
}

/** log_type = FILE path [soft [hard]] | SYSLOG facility [level] */
export function logType(words: readonly Word[]): Parsed<LogTarget> {
  const first = words[0]!;
  const kind = first.text.toUpperCase();
  if (kind === 'FILE' && (words.length < 2 || words.length > 4)) {
    return fail(diag('error', at(first), `log_type FILE expects a file name and at most two size limits: FILE path [soft [hard]]${commentHint(words)}`, first.text.length));
  }
  if (kind === 'SYSLOG' && (words.length < 2 || words.length > 3)) {
    return fail(diag('error', at(first), `log_type SYSLOG expects a facility and at most a level: SYSLOG facility [level]${commentHint(words)}`, first.text.length));
  }
  const r = parseWords('LogType', words);
  if (!r.ok) {
    const message = kind === 'FILE' || kind === 'SYSLOG' ? r.diagnostic.message : `expected FILE or SYSLOG, found '${first.text}'`;
    return fail({ ...r.diagnostic, message: `bad value for 'log_type': ${message}` });
  }
  const v = r.value;
  if (v.kind === 'syslog') return ok({ kind: 'syslog', facility: v.facility, level: v.level });
  if (!v.path.startsWith('/')) {
    return ok({ kind: 'file', path: v.path, soft: v.soft, hard: v.hard }, [
      diag('warning', at(words[1]!), `log file '${v.path}' is a relative path: it is opened relative to the daemon's working directory`, v.path.length),
    ]);
  }
  if (v.soft !== null && v.hard !== null && v.hard < v.soft) {
    const w = words[3]!;
    return fail(diag('error', at(w), `bad value for 'log_type': the hard limit (${v.hard} bytes) is less than the soft limit (${v.soft} bytes)`, w.text.length));
  }
  const hard = v.soft === null ? null : (v.hard ?? defaultHardLimit(v.soft));
  return ok({ kind: 'file', path: v.path, soft: v.soft, hard });
}

/** redirect = host port */
export function redirect(words: readonly Word[], db: SysDb): Parsed<{ host: string; port: number }> {
  const [hostWord, portWord] = [words[0]!, words[1]!];
  const host = single('HostAddress', hostWord, 'redirect');
  if (!host.ok) return host;
  let port: number;
  if (/^\+?\d+$/.test(portWord.text)) {
    port = Number(portWord.text.replace('+', ''));
    if (port < 1 || port > 65535) {
      return fail(diag('error', at(portWord), `bad value for 'redirect': port ${port} is out of range (1-65535)`, portWord.text.length));
    }
  } else {
    const entry = db.serviceByName(portWord.text, 'tcp');
    if (entry === undefined) {
      return fail(diag('error', at(portWord), `bad value for 'redirect': '${portWord.text}' is neither a port number nor a tcp service of /etc/services`, portWord.text.length));
    }
    port = entry.port;
  }
  return ok({ host: hostWord.text, port });
}

/** env = NAME=value ... */
export function envEntries(words: readonly Word[]): Parsed<string[]> {
  for (const w of words) {
    if (!w.text.includes('=')) {
      return fail(diag('error', at(w), `bad value for 'env': '${w.text}' has no '=': expected NAME=value${commentHint(words)}`, w.text.length));
    }
  }
  return ok(words.map((w) => w.text));
}

/** cps = connections-per-second seconds-off */
export function cps(words: readonly Word[]): Parsed<[number, number]> {
  const a = single('Count', words[0]!, 'cps');
  if (!a.ok) return a;
  const b = single('Count', words[1]!, 'cps');
  if (!b.ok) return b;
  return ok([a.value, b.value]);
}

/** per_source_cps = rate burst (tsinetd extension: a token bucket per source address) */
export function perSourceCps(words: readonly Word[]): Parsed<[number, number]> {
  const [rw, bw] = [words[0]!, words[1]!];
  const rate = single('Decimal', rw, 'per_source_cps');
  if (!rate.ok) return rate;
  if (!(rate.value > 0) || !Number.isFinite(rate.value)) {
    return fail(diag('error', at(rw), `bad value for 'per_source_cps': the rate (connections per second) must be a number above 0`, rw.text.length));
  }
  const burst = single('Count', bw, 'per_source_cps');
  if (!burst.ok) return burst;
  if (burst.value < 1) {
    return fail(diag('error', at(bw), `bad value for 'per_source_cps': the burst must be at least 1`, bw.text.length));
  }
  return ok([rate.value, burst.value]);
}

/** max_load = a load average above 0 */
export function maxLoad(word: Word): Parsed<number | null> {
  const r = single('Decimal', word, 'max_load');
  if (!r.ok) return r;
  if (r.value === 0) return fail(diag('error', at(word), "bad value for 'max_load': 0 is not allowed (xinetd rejects it); leave max_load out for no limit", word.text.length));
  if (r.value < 0) {
    return ok(null, [diag('warning', at(word), `max_load ${word.text} can never be reached: ignored`, word.text.length)]);
  }
  return ok(r.value);
}
