// The attribute table (src/config/xinetd/attributes.ts) as the one place that says what an attribute means:
// every row names its applier, inheritance, writer and dump lines or says why it has none; the
// handlers of a row act on that row's attribute (applied, inherited from defaults, written by
// --convert and read back, dumped); and no other module decides an attribute's meaning by
// switching on its name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ATTRIBUTES, handled, NOT_IN_DEFAULTS, type AttributeSpec } from '../../../../src/config/xinetd/attributes.js';
import { formatServiceDump } from '../../../../src/ops/dump.js';
import type { Service } from '../../../../src/table.js';
import { writeService } from '../../../../src/convert/xinetd-writer.js';
import { readTree, repoRoot } from '../../../helpers/imports.js';
import { buildText, fixtureDb } from './xinetd-fixture-env.js';

const db = fixtureDb();

/**
 * A value for each attribute, and lines the service needs with it (kept in the baseline too).
 * Every attribute of the table has one, and nothing else does.
 */
const SAMPLES: Readonly<Record<string, { value: string; with?: string[] }>> = {
  id: { value: 'other' },
  type: { value: 'UNLISTED' },
  flags: { value: 'REUSE' },
  disable: { value: 'yes' },
  socket_type: { value: 'dgram' },
  protocol: { value: 'udp' },
  wait: { value: 'yes' },
  user: { value: 'nobody' },
  group: { value: 'nogroup' },
  groups: { value: 'yes' },
  instances: { value: '4' },
  nice: { value: '5' },
  server: { value: '/bin/cat' },
  server_args: { value: 'a b' },
  libwrap: { value: 'ftpd' },
  only_from: { value: '127.0.0.1' },
  no_access: { value: '127.0.0.2' },
  access_times: { value: '08:00-17:00' },
  log_type: { value: 'FILE /tmp/x.log' },
  log_on_success: { value: 'PID' },
  log_on_failure: { value: 'HOST' },
  rpc_version: { value: '2-3' },
  rpc_number: { value: '100000' },
  env: { value: 'A=b' },
  passenv: { value: 'PATH' },
  port: { value: '7013' },
  redirect: { value: '127.0.0.1 7' },
  bind: { value: '127.0.0.1' },
  interface: { value: '127.0.0.1' },
  banner: { value: '/etc/issue' },
  banner_success: { value: '/etc/motd' },
  banner_fail: { value: '/etc/nologin' },
  per_source: { value: '3' },
  cps: { value: '10 5' },
  max_load: { value: '2.5' },
  umask: { value: '022' },
  v6only: { value: 'yes' },
  deny_time: { value: '5', with: ['flags = SENSOR'] },
  rlimit_as: { value: '1M' },
  rlimit_cpu: { value: '30' },
  rlimit_data: { value: '2M' },
  rlimit_files: { value: '64' },
  rlimit_rss: { value: '3M' },
  rlimit_stack: { value: '4M' },
  enabled: { value: 'ftp' },
  disabled: { value: 'ftp' },
  mdns: { value: 'yes' },
  per_source_cps: { value: '2 4' },
};

/** What a plain service sets; a sample replaces the line of its own key. */
const BASE: Readonly<Record<string, string>> = { socket_type: 'stream', wait: 'no', user: 'root', server: '/bin/true' };

function sample(row: AttributeSpec): { value: string; with: string[] } {
  const s = SAMPLES[row.name];
  assert.ok(s !== undefined, `no sample for '${row.name}'`);
  return { value: s.value, with: s.with ?? [] };
}

function block(lines: Record<string, string>, extra: readonly string[]): string {
  return ['service ftp', '{', ...Object.entries(lines).map(([k, v]) => `\t${k} = ${v}`), ...extra.map((l) => `\t${l}`), '}', ''].join('\n');
}

/** The one service built from `text`; fails on any error diagnostic. */
function built(text: string): Service {
  const r = buildText(text);
  const errors = [...r.syntax, ...r.diagnostics].filter((d) => d.severity === 'error');
  assert.deepEqual(errors, [], text);
  const svc = r.services.at(-1);
  assert.ok(svc !== undefined, text);
  return svc.service;
}

/** The baseline service, and the same with the row's sample set in the service entry. */
function pair(row: AttributeSpec): { base: Service; withIt: Service } {
  const { value, with: extra } = sample(row);
  const others = Object.fromEntries(Object.entries(BASE).filter(([k]) => k !== row.key));
  return { base: built(block(BASE, extra)), withIt: built(block({ ...others, [row.name]: value }, extra)) };
}

type Field = keyof Service;

/** The fields of `b` that differ from `a` (where the service was read aside). */
function changed(a: Service, b: Service): Field[] {
  return (Object.keys(b) as Field[]).filter((k) => k !== 'source' && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

const inService = ATTRIBUTES.filter((r) => r.service !== null && handled(r.apply));

test('every row names its applier, inheritance, writer and dump lines, or says why it has none', () => {
  assert.ok(ATTRIBUTES.length > 40, `only ${ATTRIBUTES.length} rows`);
  assert.equal(new Set(ATTRIBUTES.map((r) => r.name)).size, ATTRIBUTES.length, 'an attribute has two rows');
  for (const r of ATTRIBUTES) {
    for (const kind of ['apply', 'inherit', 'write', 'dump'] as const) {
      const h = r[kind];
      if (!handled(h)) assert.ok(h.none.trim().length > 10, `${r.name}: no ${kind} handler, and no reason given`);
    }
    if (handled(r.write)) assert.equal(typeof r.write.handler, 'function', r.name);
    if (handled(r.dump)) assert.equal(typeof r.dump.handler, 'function', r.name);
    // What a service takes from defaults is said by each attribute that defaults may set.
    if (r.defaults === null) assert.deepEqual(r.inherit, { none: NOT_IN_DEFAULTS }, `${r.name} cannot be in defaults`);
    else if (!handled(r.inherit)) assert.notEqual(r.inherit.none, NOT_IN_DEFAULTS, `${r.name} can be set in defaults: say what services take of it`);
    else assert.ok(Object.keys(r.inherit).length > 0, `${r.name}: empty inheritance`);
  }
  assert.deepEqual(Object.keys(SAMPLES).sort(), ATTRIBUTES.map((r) => r.name).sort(), 'the samples of this test and the table list the same attributes');
});

test('write orders are distinct; rows that share a dump order share its lines', () => {
  const writes = ATTRIBUTES.flatMap((r) => (handled(r.write) ? [r.write.order] : []));
  assert.equal(new Set(writes).size, writes.length);
  const dumps = new Map<number, unknown>();
  for (const r of ATTRIBUTES) {
    if (!handled(r.dump)) continue;
    const first = dumps.get(r.dump.order);
    if (first === undefined) dumps.set(r.dump.order, r.dump.handler);
    else assert.equal(r.dump.handler, first, `${r.name} shares dump order ${r.dump.order} with another line`);
  }
});

test("each row's applier sets its attribute, and its writer writes it so that it reads back the same", () => {
  for (const row of inService) {
    const { base, withIt } = pair(row);
    const fields = changed(base, withIt);
    assert.ok(fields.length > 0, `${row.name} = ${sample(row).value} changed nothing`);
    const text = writeService(withIt, { db }).text;
    const key = ATTRIBUTES.find((r) => r.name === row.key)!;
    if (handled(key.write)) assert.match(text, new RegExp(`^\\t${key.name} *= `, 'm'), `${row.name}: no '${key.name}' line in\n${text}`);
    const back = built(text);
    for (const f of fields) assert.deepEqual(back[f], withIt[f], `${row.name}: ${f} did not survive --convert's block:\n${text}`);
  }
});

test("each row's dump lines show its attribute in the dump", () => {
  const context = { protocolNumber: (n: string) => db.protocolNumber(n) };
  for (const row of inService) {
    if (!handled(row.dump)) continue;
    const { base, withIt } = pair(row);
    const lines = row.dump.handler(withIt, context);
    assert.notDeepEqual(lines, row.dump.handler(base, context), `${row.name}: the dump does not show it`);
    const text = formatServiceDump({ services: [withIt], files: [], diagnostics: [] }, new Date(0), context);
    for (const l of lines) assert.ok(text.includes(`\t\t${l}\n`), `${row.name}: '${l}' is not in the dump:\n${text}`);
  }
});

test('what services take from defaults: when the entry starts, or from the final defaults', () => {
  const fromDefaults = ATTRIBUTES.filter((r) => r.defaults !== null && r.service !== null && handled(r.apply));
  assert.ok(fromDefaults.length > 15);
  for (const row of fromDefaults) {
    const keyRow = ATTRIBUTES.find((r) => r.name === row.key)!;
    const inherit = keyRow.inherit;
    const { base, withIt } = pair(row);
    const fields = changed(base, withIt);
    const { value, with: extra } = sample(row);
    const defaults = `defaults\n{\n\t${row.name} = ${value}\n}\n`;
    const before = built(defaults + block(BASE, extra));
    const after = built(block(BASE, extra) + defaults);
    const takes = (s: Service): boolean => fields.every((f) => JSON.stringify(s[f]) === JSON.stringify(withIt[f]));
    const untouched = (s: Service): boolean => changed(base, s).length === 0;
    if (!handled(inherit)) {
      assert.ok(untouched(before) && untouched(after), `${row.name}: its row says services take nothing from defaults`);
      continue;
    }
    assert.ok(inherit.atStart !== undefined || inherit.atEnd !== undefined, `${row.name}: inherited how?`);
    assert.ok(takes(before), `${row.name} in defaults before the service: not taken`);
    assert.equal(
      takes(after),
      inherit.atEnd !== undefined,
      `${row.name} in defaults after the service: ${inherit.atEnd !== undefined ? 'not taken from the final defaults' : 'taken, though only copied when an entry starts'}`,
    );
    if (inherit.atEnd === undefined) assert.ok(untouched(after), row.name);
  }
});

// ---- No other module decides an attribute's meaning by its name ---------------------------------

/** The table and its handlers. */
const TABLE_MODULES = ['attributes.ts', 'attribute-apply.ts', 'attribute-write.ts', 'attribute-dump.ts', 'attribute-words.ts'];

/** Modules that compare an attribute's name today, each with why (an entry no longer needed fails). */
const ALLOWED: ReadonlyMap<string, string> = new Map([
  ['hosts-options.ts', "hosts_access(5) option names (umask, nice, user, group): another language's words"],
  ['wrap-grant.ts', 'runs the hosts_access(5) options by name (umask, nice): not xinetd attributes'],
  [
    'parse.ts',
    'the syntax wrapper recognises `disable = yes` to soften an end-of-entry error; it sits below the table (values.ts, which the appliers use, imports it)',
  ],
  ['validate.ts', "xinetd's service_attr_check: protocol, socket_type and port may be implied rather than set"],
]);

test('no module other than the table switches on attribute names', () => {
  const tree = readTree(join(repoRoot(), 'src'));
  assert.ok(tree.size > 50, `the scan found ${tree.size} modules`);
  const names = ATTRIBUTES.map((r) => r.name).join('|');
  // `case 'cps':`, or a name, key or word compared with an attribute's name.
  const decides = new RegExp(`case '(${names})':|\\b(name|key|text)(\\.text)?(\\.toLowerCase\\(\\))? *[!=]== *'(${names})'`);
  const found = new Map<string, string[]>();
  for (const [rel, text] of tree) {
    const base = rel.split('/').at(-1)!;
    if (TABLE_MODULES.includes(base)) continue;
    text.split('\n').forEach((line, i) => {
      if (decides.test(line)) found.set(base, [...(found.get(base) ?? []), `${rel}:${i + 1}`]);
    });
  }
  const offenders = [...found].filter(([base]) => !ALLOWED.has(base)).flatMap(([, at]) => at);
  assert.deepEqual(offenders, [], 'decide it in the attribute table (src/config/xinetd/attributes.ts) instead');
  const stale = [...ALLOWED.keys()].filter((base) => !found.has(base));
  assert.deepEqual(stale, [], 'these exceptions are no longer needed: remove them');
});
