// src/config/xinetd/numbers.ts: every numeric attribute read as xinetd 2.3.15.3's parsers.c reads it, at the
// boundaries of its C reader (strtol into a long then an int, strtoull, sscanf "%lf", get_limit).
// The expected values were measured with the real xinetd (-d prints them) where its dump shows
// the attribute; see test/e2e/numbers-xinetd.test.ts for the side-by-side run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cParseInt, cParseUll, cScanDouble, NUMBER_READERS, type NumericAttribute } from '../../../../src/config/xinetd/numbers.js';

/** The value, or 'refused: <message>'. */
function read(attribute: NumericAttribute, text: string): unknown {
  const r = NUMBER_READERS[attribute].read(text);
  return r.ok ? r.value : `refused: ${r.message}`;
}

function noted(attribute: NumericAttribute, text: string): boolean {
  const r = NUMBER_READERS[attribute].read(text);
  assert.ok(r.ok, `${attribute} ${text} was refused`);
  return r.notes.length > 0;
}

const refused = (attribute: NumericAttribute, text: string): boolean => !NUMBER_READERS[attribute].read(text).ok;

test('parse_int: strtol into a 64-bit long, whole word, then the low 32 bits as a signed int', () => {
  const v = (t: string, base: 8 | 10 = 10): number | string => {
    const r = cParseInt(t, base);
    return r.ok ? r.value : 'fail';
  };
  assert.equal(v('2147483647'), 2147483647);
  assert.equal(v('2147483648'), -2147483648);
  assert.equal(v('4294967295'), -1);
  assert.equal(v('4294967296'), 0);
  assert.equal(v('99999999999'), 1215752191);
  assert.equal(v('-2147483649'), 2147483647);
  assert.equal(v('9223372036854775807'), -1, 'LONG_MAX is read, its low 32 bits are all ones');
  assert.equal(v('9223372036854775808'), 'fail', 'one past LONG_MAX: ERANGE');
  assert.equal(v('-9223372036854775808'), 0);
  assert.equal(v('-9223372036854775809'), 'fail');
  assert.equal(v('+12'), 12);
  assert.equal(v('-0'), 0);
  assert.equal(v('007'), 7, 'base 10: leading zeros are not octal');
  for (const t of ['', '+', '-', '0x10', '12x', '1.5', ' 1', 'x1', '1e3']) assert.equal(v(t), 'fail', t);
  assert.equal(v('0777', 8), 0o777);
  assert.equal(v('08', 8), 'fail');
  assert.equal(v('40000000022', 8), 0o22, 'octal 2^32 + 022 keeps 022');
});

test('parse_ull: strtoull, where a minus sign negates modulo 2^64', () => {
  const v = (t: string): bigint | string => {
    const r = cParseUll(t);
    return r.ok ? r.value : 'fail';
  };
  assert.equal(v('18446744073709551615'), 2n ** 64n - 1n);
  assert.equal(v('18446744073709551616'), 'fail');
  assert.equal(v('-1'), 2n ** 64n - 1n);
  assert.equal(v('-18446744073709551615'), 1n);
  assert.equal(v('-18446744073709551616'), 'fail');
  assert.equal(v('0x1'), 'fail');
  assert.equal(v('5k'), 'fail');
});

test('sscanf "%lf": the longest number at the start, hexadecimal, inf and nan included', () => {
  const v = (t: string): number | null => cScanDouble(t)?.value ?? null;
  assert.equal(v('0x50'), 80);
  assert.equal(v('0X1.8p1'), 3);
  assert.equal(v('0x'), 0, "'0x' without a hex digit reads as 0");
  assert.equal(v('2.5x'), 2.5);
  assert.equal(v('1e'), 1);
  assert.equal(v('1e2x'), 100);
  assert.equal(v('.5'), 0.5);
  assert.equal(v('-3'), -3);
  assert.equal(v('1e999'), Infinity);
  assert.equal(v('INF'), Infinity);
  assert.equal(v('-infinity'), -Infinity);
  assert.ok(Number.isNaN(v('nan(0x1)')!));
  assert.equal(v('x1'), null);
  assert.equal(v('.'), null);
  assert.equal(v('+'), null);
});

test('instances and per_source: UNLIMITED (any case) or an int that is not negative after the wrap', () => {
  for (const a of ['instances', 'per_source'] as const) {
    assert.equal(read(a, 'UNLIMITED'), null);
    assert.equal(read(a, 'unlimited'), null);
    assert.equal(read(a, '0'), 0);
    assert.equal(read(a, '2147483647'), 2147483647);
    assert.equal(read(a, '99999999999'), 1215752191);
    assert.equal(read(a, '4294967296'), 0);
    assert.ok(noted(a, '99999999999'));
    assert.ok(!noted(a, '30'));
    assert.match(String(read(a, '2147483648')), /^refused: .*low 32 bits.*-2147483648.*negative/);
    assert.ok(refused(a, '-1'));
    assert.ok(refused(a, '0x10'));
    assert.ok(refused(a, '7x'));
    assert.ok(refused(a, '9223372036854775808'));
  }
});

test('cps: parse_ubase10 for both numbers (strtoull, low 32 bits, never negative)', () => {
  assert.equal(read('cps', '25'), 25);
  assert.equal(read('cps', '-1'), 4294967295);
  assert.equal(read('cps', '-4294967295'), 1);
  assert.equal(read('cps', '4294967306'), 10);
  assert.equal(read('cps', '+5'), 5);
  assert.ok(noted('cps', '-1'));
  assert.ok(!noted('cps', '+5'));
  assert.ok(refused('cps', '18446744073709551616'));
  assert.ok(refused('cps', '10s'));
});

test('port: parse_base10 then 0-65535, after the wrap; redirect: 1-65535', () => {
  assert.equal(read('port', '0'), 0);
  assert.equal(read('port', '65535'), 65535);
  assert.ok(refused('port', '65536'));
  assert.ok(refused('port', '-1'));
  assert.equal(read('port', '4294987296'), 20000, 'measured: xinetd listens on 20000');
  assert.equal(read('port', '4294967376'), 80);
  assert.ok(noted('port', '4294967376'));
  assert.ok(refused('port', '80x'));
  assert.ok(refused('redirect', '0'), 'redirect looks up 0 as a service name');
  assert.equal(read('redirect', '65535'), 65535);
  assert.ok(refused('redirect', '65536'));
});

test('nice: parse_base10, clamped to the ±40 any increment is limited to', () => {
  assert.equal(read('nice', '-5'), -5);
  assert.equal(read('nice', '40'), 40);
  assert.equal(read('nice', '41'), 40);
  assert.equal(read('nice', '-99'), -40);
  assert.equal(read('nice', '4294967297'), 1);
  assert.ok(refused('nice', '1.5'));
});

test('deny_time: FOREVER, NEVER (any case) or parse_base10', () => {
  assert.equal(read('deny_time', 'forever'), 'FOREVER');
  assert.equal(read('deny_time', 'Never'), 'NEVER');
  assert.equal(read('deny_time', '60'), 60);
  assert.equal(read('deny_time', '4294967306'), 10);
  assert.equal(read('deny_time', '4294967295'), -1);
  assert.ok(noted('deny_time', '-1'), 'FOREVER in xinetd');
  assert.ok(!noted('deny_time', '60'));
  assert.ok(refused('deny_time', '60m'));
});

test('umask: parse_int base 8, 0-0777 after the wrap', () => {
  assert.equal(read('umask', '022'), 0o22);
  assert.equal(read('umask', '22'), 0o22);
  assert.equal(read('umask', '0777'), 0o777);
  assert.equal(read('umask', '-0'), 0);
  assert.ok(refused('umask', '1000'));
  assert.ok(refused('umask', '-1'));
  assert.ok(refused('umask', '999'));
  assert.ok(refused('umask', '0x12'));
  assert.equal(read('umask', '40000000022'), 0o22, 'measured: xinetd shows umask = 22');
  assert.ok(noted('umask', '40000000022'));
});

test('max_load: sscanf "%lf", anything but 0', () => {
  assert.equal(read('max_load', '0x50'), 80);
  assert.equal(read('max_load', '2.5x'), 2.5);
  assert.equal(read('max_load', '2.5'), 2.5);
  assert.equal(read('max_load', '-1'), -1);
  assert.ok(Number.isNaN(read('max_load', 'nan')));
  assert.ok(noted('max_load', '0x50'));
  assert.ok(noted('max_load', '2.5x'));
  assert.ok(noted('max_load', '-1'));
  assert.ok(!noted('max_load', '2.5'));
  assert.ok(refused('max_load', '0'));
  assert.ok(refused('max_load', '0.0x'));
  assert.ok(refused('max_load', '0x'));
  assert.ok(refused('max_load', 'high'));
});

test('rlimit sizes: get_limit (one K or M suffix, strtoull, overflow refused); rlimit_cpu: parse_ull', () => {
  assert.equal(read('rlimit_as', '64M'), 64 * 1024 * 1024);
  assert.equal(read('rlimit_files', '1k'), 1024);
  assert.equal(read('rlimit_stack', 'unlimited'), 'unlimited');
  assert.equal(read('rlimit_data', '-1'), 'unlimited', 'strtoull("-1") is RLIM_INFINITY');
  assert.equal(read('rlimit_rss', '-2'), 'unlimited', '2^64-2 is beyond any real limit');
  assert.equal(read('rlimit_as', '9007199254740991'), 9007199254740991);
  assert.ok(refused('rlimit_as', '10kk'));
  assert.ok(refused('rlimit_as', '1G'));
  assert.ok(refused('rlimit_as', '-1k'), '(2^64-1) * 1024 overflows');
  assert.ok(refused('rlimit_as', '18014398509481984K'));
  assert.equal(read('rlimit_cpu', '20'), 20);
  assert.equal(read('rlimit_cpu', '-1'), 'unlimited');
  assert.ok(refused('rlimit_cpu', '20K'));
});

test('log_type FILE sizes: get_limit, without UNLIMITED', () => {
  assert.equal(read('log_type', '10K'), 10240);
  assert.equal(read('log_type', '5m'), 5 * 1024 * 1024);
  assert.equal(read('log_type', '-1'), 2 ** 64);
  assert.ok(noted('log_type', '-1'));
  assert.ok(refused('log_type', 'UNLIMITED'));
  assert.ok(refused('log_type', '1G'));
});

test('rpc_number and rpc_version: parse_base10', () => {
  assert.equal(read('rpc_number', '100001'), 100001);
  assert.deepEqual(read('rpc_version', '2-4'), [2, 4]);
  assert.deepEqual(read('rpc_version', '3'), [3, 3]);
  assert.ok(refused('rpc_version', '4-2'));
  assert.ok(refused('rpc_version', '-1'));
  assert.ok(refused('rpc_version', '1-'));
});

test('every numeric attribute of the attribute table has exactly one reader', async () => {
  const { ATTRIBUTES } = await import('../../../../src/config/xinetd/attributes.js');
  const names = new Set(ATTRIBUTES.map((a) => a.name));
  for (const a of Object.keys(NUMBER_READERS)) if (a !== 'redirect') assert.ok(names.has(a), `${a} is not an attribute`);
  for (const a of ['instances', 'per_source', 'cps', 'max_load', 'port', 'nice', 'umask', 'deny_time', 'rpc_number', 'rpc_version']) {
    assert.ok(a in NUMBER_READERS, `${a} has no reader`);
  }
  for (const a of ATTRIBUTES) if (a.name.startsWith('rlimit_')) assert.ok(a.name in NUMBER_READERS, `${a.name} has no reader`);
});
