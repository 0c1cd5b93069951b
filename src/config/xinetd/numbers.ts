// Numbers as xinetd 2.3.15.3 reads them: one row per numeric attribute, naming the C function
// xinetd's parsers.c reads it with, and a reader that gives the same result.
//
// The C readers (util.c):
//   parse_int(s, base)  strtol() into a 64-bit long; fails when no digit was read, on overflow
//                       of the long (ERANGE) or on any character after the number; the long is
//                       then stored in an int, so it wraps modulo 2^32 (99999999999 → 1215752191).
//   parse_ull(s)        strtoull(): the same, but a leading '-' negates modulo 2^64 ("-1" is
//                       18446744073709551615); parse_uint (parse_ubase10) keeps the low 32 bits.
//   sscanf("%lf")       strtod() on the longest prefix that reads as a number: hexadecimal
//                       ("0x50" is 80), inf, nan, and whatever follows is ignored ("2.5x" is 2.5).
//   get_limit           rlimit sizes: one trailing k/K or m/M multiplies, then parse_ull.
// Words never hold blanks, so strtol's leading and parse_int's trailing blanks do not arise.
//
// Where the value read differs from the number the text spells (a wrap, a hexadecimal or
// negative reading, ignored trailing text), the reader adds a note: tsinetd uses xinetd's value
// and build.ts reports the note as a located warning. Using xinetd's value everywhere keeps the
// rule of issue #19: tsinetd never opens or admits more than xinetd does with the same text.
// The few places where tsinetd's value differs are marked "differs:" and listed in the
// COMPATIBILITY section of tsinetd.conf(5).

import { present } from '../../util/invariant.js';

export type NumberRead<T> = { ok: true; value: T; notes: string[] } | { ok: false; message: string };

const good = <T>(value: T, notes: string[] = []): NumberRead<T> => ({ ok: true, value, notes });
const bad = <T>(message: string): NumberRead<T> => ({ ok: false, message });

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const ULLONG_MAX = 2n ** 64n - 1n;

// ---- The C readers -----------------------------------------------------------------------------

/** The sign and digits strtol/strtoull read from the start of `text` in `base` (8 or 10), and the rest. */
function cDigits(text: string, base: 8 | 10): { negative: boolean; magnitude: bigint; rest: string } | null {
  const m = (base === 8 ? /^([+-]?)([0-7]+)/ : /^([+-]?)([0-9]+)/).exec(text);
  if (m === null) return null;
  const digits = present(m[2], 'the digits group, which always takes part');
  const magnitude = base === 8 ? BigInt(`0o${digits}`) : BigInt(digits);
  return { negative: m[1] === '-', magnitude, rest: text.slice(m[0].length) };
}

/** xinetd's parse_int(text, base, -1): strtol into a long, the whole word, then stored in an int. */
export function cParseInt(text: string, base: 8 | 10 = 10): { ok: true; value: number; long: bigint } | { ok: false; why: string } {
  const d = cDigits(text, base);
  if (d === null) return { ok: false, why: base === 8 ? 'it is not an octal number' : 'it is not a whole number' };
  if (d.rest !== '') return { ok: false, why: `'${d.rest}' follows the number` };
  const long = d.negative ? -d.magnitude : d.magnitude;
  if (long < LONG_MIN || long > LONG_MAX) return { ok: false, why: 'it is too large for a C long (strtol overflows)' };
  return { ok: true, value: Number(BigInt.asIntN(32, long)), long };
}

/** xinetd's parse_ull(text, 10, -1): strtoull, where '-' negates modulo 2^64. */
export function cParseUll(text: string): { ok: true; value: bigint } | { ok: false; why: string } {
  const d = cDigits(text, 10);
  if (d === null) return { ok: false, why: 'it is not a whole number' };
  if (d.rest !== '') return { ok: false, why: `'${d.rest}' follows the number` };
  if (d.magnitude > ULLONG_MAX) return { ok: false, why: 'it is too large for a C unsigned long long (strtoull overflows)' };
  return { ok: true, value: d.negative ? BigInt.asUintN(64, -d.magnitude) : d.magnitude };
}

/** sscanf(text, "%lf"): strtod on the longest prefix; null when no number starts the text. */
export function cScanDouble(text: string): { value: number; used: string } | null {
  const special = /^([+-]?)(?:(infinity|inf)|(nan)(?:\([0-9A-Za-z_]*\))?)/i.exec(text);
  if (special !== null) {
    const value = special[2] !== undefined ? Infinity : NaN;
    return { value: special[1] === '-' ? -value : value, used: special[0] };
  }
  const hex = /^([+-]?)0x([0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p([+-]?[0-9]+))?/i.exec(text);
  if (hex !== null) {
    const [whole = '', fraction = ''] = present(hex[2], 'the digits group, which always takes part').split('.');
    let value = 0;
    for (const c of whole + fraction) value = value * 16 + parseInt(c, 16);
    value = (value / 16 ** fraction.length) * 2 ** Number(hex[3] ?? '0');
    return { value: hex[1] === '-' ? -value : value, used: hex[0] };
  }
  const dec = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?/i.exec(text);
  if (dec === null) return null;
  return { value: Number(dec[0]), used: dec[0] };
}

// ---- Readings shared by several attributes --------------------------------------------------------

/** A note when the int xinetd stores is not the number written (it wrapped modulo 2^32). */
function wrapNote(text: string, r: { value: number; long: bigint }, reader: string): string[] {
  return BigInt(r.value) === r.long ? [] : [`xinetd's ${reader} keeps the low 32 bits of ${text}: the value is ${r.value}`];
}

/** parse_base10 (parse_int, base 10), with a check of the int xinetd stores. */
function base10(text: string, check: (v: number) => string | null): NumberRead<number> {
  const r = cParseInt(text, 10);
  if (!r.ok) return bad(`'${text}' cannot be read: ${r.why} (xinetd reads it with strtol, base 10)`);
  const notes = wrapNote(text, r, 'parse_base10');
  const problem = check(r.value);
  const [note] = notes;
  if (problem !== null) return bad(note !== undefined ? `${note}, and ${problem}` : problem);
  return good(r.value, notes);
}

/** parse_ubase10: strtoull, low 32 bits, stored in a time_t (so never negative: "-1" is 4294967295). */
function ubase10(text: string): NumberRead<number> {
  const r = cParseUll(text);
  if (!r.ok) return bad(`'${text}' cannot be read: ${r.why} (xinetd reads it with strtoull, base 10)`);
  const value = Number(BigInt.asUintN(32, r.value));
  const written = BigInt(text.replace(/^\+/, ''));
  return good(value, BigInt(value) === written ? [] : [`xinetd reads '${text}' as ${value} (strtoull, then the low 32 bits)`]);
}

/** instances, per_source: UNLIMITED or parse_base10 >= 0. null = no limit. */
function limit(text: string): NumberRead<number | null> {
  if (text.toUpperCase() === 'UNLIMITED') return good(null);
  return base10(text, (v) => (v < 0 ? `a negative number (${v}) is refused` : null));
}

/** Safe integers as they are; beyond 2^53 a size no machine reaches. */
function rlimitValue(text: string, v: bigint, notes: string[]): NumberRead<number | 'unlimited'> {
  if (v === ULLONG_MAX) return good('unlimited', text === '-1' ? [`'-1' is RLIM_INFINITY, no limit (write UNLIMITED)`] : notes);
  // differs: xinetd passes 2^53..2^64-2 to setrlimit as they are; tsinetd cannot carry them and
  // uses no limit, which no process can tell apart.
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return good('unlimited', [...notes, `${v} is beyond any real limit: tsinetd sets no limit`]);
  return good(Number(v), notes);
}

/** get_limit: N, NK or NM (one suffix), the number through parse_ull, overflow refused. */
function getLimit(text: string): NumberRead<bigint> {
  const last = text.slice(-1);
  const multiplier = /[kK]/.test(last) ? 1024n : /[mM]/.test(last) ? 1024n * 1024n : 1n;
  const digits = multiplier === 1n ? text : text.slice(0, -1);
  const r = cParseUll(digits);
  if (!r.ok) return bad(`'${text}' cannot be read as a size (N, NK or NM): ${r.why}`);
  const v = r.value * multiplier;
  if (v > ULLONG_MAX) return bad(`'${text}' is larger than 2^64 bytes`);
  return good(v, /^-/.test(digits) ? [`xinetd reads '${text}' as ${v} (strtoull negates modulo 2^64)`] : []);
}

/** rlimit sizes: UNLIMITED or get_limit. */
function size(text: string): NumberRead<number | 'unlimited'> {
  if (text.toUpperCase() === 'UNLIMITED') return good('unlimited');
  const r = getLimit(text);
  return r.ok ? rlimitValue(text, r.value, r.notes) : r;
}

/** rlimit_cpu: UNLIMITED or parse_ull, no suffix. */
function seconds(text: string): NumberRead<number | 'unlimited'> {
  if (text.toUpperCase() === 'UNLIMITED') return good('unlimited');
  const r = cParseUll(text);
  if (!r.ok) return bad(`'${text}' cannot be read as a number of seconds: ${r.why}`);
  return rlimitValue(text, r.value, /^-/.test(text) ? [`xinetd reads '${text}' as ${r.value} (strtoull negates modulo 2^64)`] : []);
}

// ---- One row per attribute ------------------------------------------------------------------------

export interface NumberRow<T> {
  /** The C function xinetd 2.3.15.3 reads the attribute with (parsers.c). */
  reader: string;
  /** One word of the attribute → xinetd's value, or why xinetd refuses it. */
  read(text: string): NumberRead<T>;
}

const row = <T>(reader: string, read: (text: string) => NumberRead<T>): NumberRow<T> => ({ reader, read });

export const NUMBER_READERS = {
  instances: row('parse_base10, >= 0, or UNLIMITED', limit),
  per_source: row('parse_base10, >= 0, or UNLIMITED', limit),
  cps: row('parse_ubase10 (both values)', ubase10),
  port: row('parse_base10, 0 to 65535', (t) => base10(t, (v) => (v < 0 || v > 65535 ? `port ${v} is out of range (0-65535)` : null))),
  // A word that is not a number from 1 up is looked up in /etc/services instead (values.ts).
  redirect: row('parse_base10, 1 to 65535, else a tcp service name', (t) =>
    base10(t, (v) => (v <= 0 ? `port ${v} is not a port number` : v > 65535 ? `port ${v} is too large (1-65535)` : null)),
  ),
  nice: row('parse_base10', (t) => {
    const r = base10(t, () => null);
    // The kernel clamps a nice increment; beyond ±40 every value has the same effect.
    if (!r.ok || Math.abs(r.value) <= 40) return r;
    return good(Math.sign(r.value) * 40, [...r.notes, `nice ${r.value} has the effect of ${Math.sign(r.value) * 40} (the kernel clamps it)`]);
  }),
  deny_time: row('FOREVER, NEVER or parse_base10', (t): NumberRead<number | 'FOREVER' | 'NEVER'> => {
    const upper = t.toUpperCase();
    if (upper === 'FOREVER' || upper === 'NEVER') return good(upper);
    const r = base10(t, () => null);
    if (!r.ok || r.value >= 0) return r;
    const meaning =
      r.value === -1 ? 'xinetd stores FOREVER as -1: the ban is forever' : 'a ban that xinetd lifts at its next scrub of the list, within a minute';
    return good(r.value, [...r.notes, `deny_time ${r.value} is ${meaning}`]);
  }),
  umask: row('parse_int, base 8, 0 to 0777', (t): NumberRead<number> => {
    const r = cParseInt(t, 8);
    if (!r.ok) return bad(`'${t}' cannot be read as a umask: ${r.why} (xinetd reads it with strtol, base 8)`);
    const notes = wrapNote(t, r, 'parse_int').map((n) => `${n} (0${r.value.toString(8)})`);
    const [note] = notes;
    if (r.value < 0 || r.value > 0o777) return bad(`umask ${t} is outside 0-0777${note !== undefined ? ` (${note})` : ''}`);
    return good(r.value, notes);
  }),
  max_load: row('sscanf("%lf"), not 0', (t): NumberRead<number> => {
    const r = cScanDouble(t);
    if (r === null) return bad(`'${t}' does not start with a number (xinetd reads it with sscanf "%lf")`);
    if (r.value === 0) return bad(`xinetd reads '${t}' as 0, which it refuses; leave max_load out for no limit`);
    const notes: string[] = [];
    if (r.used !== t) notes.push(`xinetd reads only '${r.used}' of '${t}' (sscanf "%lf"): the value is ${r.value}`);
    else if (/^[+-]?0x|inf|nan/i.test(t)) notes.push(`xinetd reads '${t}' as ${r.value} (sscanf "%lf")`);
    if (r.value < 0) notes.push(`the load average is never below ${r.value}: every client is refused, as xinetd does`);
    if (Number.isNaN(r.value)) notes.push('no load average is at or above NaN: nobody is ever refused for the load, as with xinetd');
    return good(r.value, notes);
  }),
  rpc_number: row('parse_base10', (t) => base10(t, () => null)),
  rpc_version: row('parse_base10 for N, or for both ends of N-M', (t): NumberRead<[number, number]> => {
    const dash = t.indexOf('-');
    const low = base10(dash < 0 ? t : t.slice(0, dash), () => null);
    if (!low.ok) return low;
    if (dash < 0) return good([low.value, low.value], low.notes);
    const high = base10(t.slice(dash + 1), () => null);
    if (!high.ok) return high;
    if (high.value < low.value) return bad(`the version range ${low.value}-${high.value} is empty`);
    return good([low.value, high.value], [...low.notes, ...high.notes]);
  }),
  rlimit_as: row('get_limit (N, NK, NM through parse_ull) or UNLIMITED', size),
  rlimit_data: row('get_limit (N, NK, NM through parse_ull) or UNLIMITED', size),
  rlimit_rss: row('get_limit (N, NK, NM through parse_ull) or UNLIMITED', size),
  rlimit_stack: row('get_limit (N, NK, NM through parse_ull) or UNLIMITED', size),
  rlimit_files: row('get_limit (N, NK, NM through parse_ull) or UNLIMITED', size),
  rlimit_cpu: row('parse_ull or UNLIMITED', seconds),
  // The soft and hard sizes of `log_type = FILE path soft hard` (a size past 2^53 bytes is never reached).
  log_type: row('get_limit (N, NK, NM through parse_ull)', (t): NumberRead<number> => {
    const r = getLimit(t);
    return r.ok ? good(Number(r.value), r.notes) : r;
  }),
} as const;

export type NumericAttribute = keyof typeof NUMBER_READERS;
