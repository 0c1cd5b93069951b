// Property-based fuzzing of the configuration loaders (fast-check), shared by
// test/unit/fuzz-*.test.ts. It runs inside a worker thread (fuzz-worker.ts) so that the test can
// stop it and name the input being loaded if a load never returns.
//
// Inputs: configurations generated from the language's own pieces (attributes, operators,
// values good and bad, includes, junk), and real configurations (the repository's fixtures and,
// when present, the shared corpus) mutated by deleting, duplicating, swapping and inserting.
// For every input the loader must: return (never throw), within a time bound; give only
// diagnostics located inside the files it read (1 <= line <= lines, 1 <= column <= length + 1),
// with a real message; give the same result twice; and give services that the rest of the
// daemon can use (spawn specs, ACLs, the dump) without throwing.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { compileServiceAcl, decideAccess } from '../../src/admission/acl.js';
import { parsePeerAddress } from '../../src/admission/acl-address.js';
import { ATTRIBUTES } from '../../src/config/xinetd/attributes.js';
import { buildSpawnSpec } from '../../src/spawn/child-env.js';
import { loadXinetdConfig } from '../../src/config/config.js';
import { formatDiagnostic, type Diagnostic } from '../../src/diagnostics.js';
import { formatServiceDump } from '../../src/ops/dump.js';
import { loadInetdText, type InetdDialect } from '../../src/config/inetd/inetd.js';
import { SysDb } from '../../src/sys/sysdb.js';
import type { Service, ServiceTable } from '../../src/table.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** The shared corpus (optional: `../shared` beside the repository). */
export const CORPUS = join(REPO, '..', 'shared', 'corpus');

/** One load may take this long at most (a generous bound: typical loads take about a millisecond). */
export const LOAD_LIMIT_MS = 2000;

export type FuzzKind = 'xinetd-generated' | 'xinetd-mutated' | 'inetd-generated' | 'inetd-mutated';

// ---- checks on one load ----------------------------------------------------------------------

const SEVERITIES = new Set(['error', 'warning', 'note']);

/** Every diagnostic points inside a file that was read, and says something. */
export function assertLocated(diags: readonly Diagnostic[], texts: ReadonlyMap<string, string>): void {
  for (const d of diags) {
    const where = `${d.file}:${d.line}:${d.column}: ${d.message}`;
    assert.ok(SEVERITIES.has(d.severity), where);
    const text = texts.get(d.file);
    assert.ok(text !== undefined, `diagnostic in a file that was not read: ${where}`);
    const lines = text.split('\n');
    assert.ok(Number.isInteger(d.line) && d.line >= 1 && d.line <= lines.length, `line out of bounds (${lines.length} lines): ${where}`);
    const lineText = lines[d.line - 1]!;
    assert.ok(Number.isInteger(d.column) && d.column >= 1 && d.column <= lineText.length + 1, `column out of bounds (line of ${lineText.length}): ${where}`);
    if (d.length !== undefined) assert.ok(Number.isInteger(d.length) && d.length >= 1, `bad length ${d.length}: ${where}`);
    assert.ok(d.message.trim().length > 0, `empty message at ${where}`);
    assert.doesNotMatch(d.message, /\bundefined\b|\[object |\bNaN\b/, `message with a leaked value: ${where}`);
    assert.doesNotMatch(d.message, /internal error|cannot parse: /, `a loader bug was caught and hidden: ${where}`);
    // Printing it (with the caret line and colours) must work too.
    formatDiagnostic(d, { sources: texts, color: true });
  }
}

const PEER = { address: '::ffff:127.0.0.1', port: 40000, family: 'IPv6' as const };
const PEER_ADDR = parsePeerAddress(PEER.address)!;

/** What the server does with a loaded service must not throw either. */
export function assertUsable(services: readonly Service[], db: SysDb): void {
  for (const s of services) {
    assert.equal(typeof s.id, 'string');
    if (s.port !== null) assert.ok(Number.isInteger(s.port) && s.port >= 0 && s.port <= 65535, `port ${s.port} of ${s.id}`);
    decideAccess(compileServiceAcl(s), PEER_ADDR);
    buildSpawnSpec(s, PEER, { env: { PATH: '/bin' }, db, uid: 0, umask: 0o022 });
    buildSpawnSpec(s, null, { env: {}, db, uid: 1000, umask: 0o077 });
  }
  const table: ServiceTable = { services: [...services], diagnostics: [], files: [] };
  formatServiceDump(table, new Date(0));
  JSON.stringify(table);
}

function timed<T>(what: string, f: () => T): T {
  const t0 = performance.now();
  const r = f();
  const ms = performance.now() - t0;
  assert.ok(ms < LOAD_LIMIT_MS, `${what} took ${ms.toFixed(0)} ms (limit ${LOAD_LIMIT_MS} ms)`);
  return r;
}

/** The system database used by the loaders (the repository's fixture files, not the machine's). */
export function fixtureDb(): SysDb {
  const etc = join(REPO, 'fixtures', 'conf', 'xinetd', 'etc');
  return new SysDb({ services: join(etc, 'services'), protocols: join(etc, 'protocols'), passwd: join(etc, 'passwd'), group: join(etc, 'group') });
}

/** Loads an xinetd tree written in `dir` (main file `xinetd.conf`) and checks every property. */
export function checkXinetdTree(dir: string, db: SysDb): void {
  const main = join(dir, 'xinetd.conf');
  const deps = { db, identity: { uid: 0, gid: 0 } };
  const first = timed('loading the configuration', () => loadXinetdConfig(main, deps));
  const texts = new Map<string, string>();
  for (const f of first.files) texts.set(f, readFileSync(f, 'utf8'));
  assertLocated(first.diagnostics, texts);
  assertUsable(first.services, db);
  const second = loadXinetdConfig(main, deps);
  assert.deepEqual(second, first, 'loading the same files twice gave different results');
}

/** Loads inetd.conf text in every dialect and checks every property. */
export function checkInetdText(text: string, db: SysDb): void {
  const path = '/fuzz/inetd.conf';
  const texts = new Map([[path, text]]);
  for (const dialect of ['auto', 'openbsd', 'freebsd'] as InetdDialect[]) {
    const env = { db, programProblem: (p: string) => (p.startsWith('/missing/') ? `server program ${p} does not exist` : null) };
    const first = timed(`loading inetd.conf (${dialect})`, () => loadInetdText(path, text, dialect, env));
    assertLocated(first.diagnostics, texts);
    assertUsable(first.services, db);
    assert.deepEqual(loadInetdText(path, text, dialect, env), first, 'loading the same text twice gave different results');
  }
}

// ---- inputs ------------------------------------------------------------------------------------

/** Values good and bad for any attribute. */
const VALUES = [
  'stream',
  'dgram',
  'raw',
  'seqpacket',
  'tcp',
  'udp',
  'icmp',
  'yes',
  'no',
  'root',
  'nobody',
  '0',
  '1',
  '-1',
  '7',
  '65535',
  '65536',
  '99999999999999999999999',
  '1e3',
  '0x10',
  '077',
  '0999',
  '-0',
  '127.0.0.1',
  '127.0.0.{1,2}',
  '127.0.{1',
  '::1',
  '::ffff:1.2.3.4',
  '10.0.0.0/8',
  '1.2.3.4/33',
  'fe80::/10',
  '0.0.0.0',
  '0',
  'localhost',
  '.example.com',
  'host.invalid',
  '12:00-24:00',
  '08:00-17:00',
  '23:59-00:00',
  '00:00-23:59',
  'FILE',
  'SYSLOG',
  'daemon',
  'authpriv',
  'info',
  'bogus',
  '/tmp/x.log',
  '1K',
  '10M',
  '5G',
  '3X',
  'UNLIMITED',
  'FOREVER',
  'NEVER',
  'INTERNAL',
  'UNLISTED',
  'RPC',
  'TCPMUX',
  'TCPMUXPLUS',
  'SPECIAL',
  'NAMEINARGS',
  'IPv4',
  'IPv6',
  'REUSE',
  'NODELAY',
  'KEEPALIVE',
  'SENSOR',
  'NORETRY',
  'PID',
  'HOST',
  'EXIT',
  'DURATION',
  'TRAFFIC',
  'USERID',
  'ATTEMPT',
  '/bin/true',
  '/usr/bin/env',
  '/missing/prog',
  'relative/prog',
  'PATH',
  'FOO=bar',
  '=x',
  'A=',
  '{',
  '}',
  '=',
  '+=',
  '-=',
  '#',
  '#x',
  '"quoted"',
  "'q'",
  '\\',
  '$(id)',
  ';',
  '`id`',
  '1-3',
  '2/3',
  'echo',
  'ftp',
  'x'.repeat(300),
  'ü',
  '\u0000',
  '\r',
  '\t',
  '\uFEFF',
  '\u2028',
  '\u{1F4A5}',
  '\\n',
  'include',
  'includedir',
  'service',
  'defaults',
];
const UNKNOWN_ATTRIBUTES = ['bogus', 'Server', 'SERVICE', 'only-from', 'x'.repeat(100), '', '{', 'include', 'service'];
const NAMES = ['echo', 'ftp', 'telnet', 'tftp', 'daytime', 'time', 'chargen', 'discard', 'git', 'my svc', 'x'.repeat(80), '', '{', '1'];
const OPERATORS = ['=', '+=', '-=', '==', '=+', ''];
const BLANKS = [' ', '\t', '  ', ' \t ', ''];

const valueArb = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...VALUES) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });
const attrNameArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...ATTRIBUTES.map((a) => a.name)) },
  { weight: 1, arbitrary: fc.constantFrom(...UNKNOWN_ATTRIBUTES) },
);

const attrLineArb = fc
  .tuple(
    fc.constantFrom(...BLANKS),
    attrNameArb,
    fc.constantFrom(...BLANKS),
    fc.constantFrom(...OPERATORS),
    fc.array(valueArb, { maxLength: 5 }),
    fc.constantFrom(...BLANKS),
  )
  .map(([indent, name, sp, op, values, sep]) => `${indent}${name}${sp}${op} ${values.join(sep === '' ? ' ' : sep)}`);

/** A file name of the tree: the main file, a file beside it, or one in the include directory. */
const TREE_FILES = ['xinetd.conf', 'part1', 'part2', 'd/a', 'd/b', 'd/c.skipped', 'd/sub~'];
const includeArb = fc.oneof(
  fc.constantFrom('part1', 'part2', 'd/a', 'xinetd.conf', 'missing', '/nonexistent/file', 'd', '').map((p) => `include ${p}`),
  fc.constantFrom('d', '.', 'missing', 'part1', '/nonexistent').map((p) => `includedir ${p}`),
);

const blockArb = fc
  .tuple(
    fc.constantFrom('service', 'defaults', 'Service', 'service', 'service'),
    fc.constantFrom(...NAMES),
    fc.array(attrLineArb, { maxLength: 12 }),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([kw, name, attrs, open, close]) => [kw === 'defaults' ? 'defaults' : `${kw} ${name}`, open ? '{' : '', ...attrs, close ? '}' : ''].join('\n'));

const junkArb = fc.oneof(fc.constantFrom('}', '{', '# comment', '', '   ', '\r', '{}', '} }', '=', 'service', 'defaults {'), fc.string({ maxLength: 20 }));

const fileTextArb = fc
  .array(fc.oneof({ weight: 6, arbitrary: blockArb }, { weight: 2, arbitrary: includeArb }, { weight: 2, arbitrary: junkArb }), { maxLength: 6 })
  .chain((parts) => fc.constantFrom('\n', '\r\n').map((nl) => parts.join('\n').replace(/\n/g, nl)));

/** A whole tree: the main file plus some of the other files. */
export const xinetdTreeArb = fc.tuple(fileTextArb, fc.array(fc.tuple(fc.constantFrom(...TREE_FILES.slice(1)), fileTextArb), { maxLength: 4 }));

// ---- mutation of real files ------------------------------------------------------------------------

type Mutation = { kind: 'delete' | 'duplicate' | 'insert' | 'replace' | 'swap-lines' | 'truncate'; at: number; len: number; token: string };

const TOKENS = [...VALUES, '\n', '\n}\n', '\n{\n', ' = ', ' += ', '\nservice x\n{\n', '\ndefaults\n{\n', '\ninclude ', '\nincludedir ', '\\\n', '#', '\t'];
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('delete', 'duplicate', 'insert', 'insert', 'replace', 'swap-lines', 'truncate'),
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 60 }),
  token: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...TOKENS) }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) }),
});
export const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 6 });

export function mutate(text: string, mutations: readonly Mutation[]): string {
  let s = text;
  for (const m of mutations) {
    const at = s.length === 0 ? 0 : m.at % (s.length + 1);
    switch (m.kind) {
      case 'delete':
        s = s.slice(0, at) + s.slice(at + m.len);
        break;
      case 'duplicate':
        s = s.slice(0, at + m.len) + s.slice(at, at + m.len) + s.slice(at + m.len);
        break;
      case 'insert':
        s = s.slice(0, at) + m.token + s.slice(at);
        break;
      case 'replace':
        s = s.slice(0, at) + m.token + s.slice(at + m.token.length);
        break;
      case 'swap-lines': {
        const lines = s.split('\n');
        const i = m.at % lines.length;
        const j = (m.at + m.len) % lines.length;
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        s = lines.join('\n');
        break;
      }
      case 'truncate':
        s = s.slice(0, at);
        break;
    }
  }
  return s;
}

/** Regular files under `dir` (recursively), skipping fixture system databases and expectations. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (name !== 'etc') out.push(...filesUnder(p));
    } else if (st.isFile() && !name.endsWith('.expected') && !name.endsWith('.stdout') && !name.endsWith('.stderr')) {
      out.push(p);
    }
  }
  return out;
}

/** Real configuration texts to mutate: the repository's fixtures, and the shared corpus if present. */
export function seedTexts(dialect: 'xinetd' | 'inetd'): { texts: string[]; corpus: boolean } {
  const dirs =
    dialect === 'xinetd' ? [join(REPO, 'fixtures', 'conf', 'xinetd'), join(REPO, 'fixtures', 'conf', 'bad')] : [join(REPO, 'fixtures', 'conf', 'inetd')];
  const corpusDir = join(CORPUS, dialect);
  const corpus = existsSync(corpusDir);
  if (corpus) dirs.push(corpusDir);
  if (dialect === 'xinetd') dirs.push(join(REPO, 'fixtures', 'default'));
  const texts = dirs.flatMap(filesUnder).map((f) => readFileSync(f, 'latin1'));
  return { texts, corpus };
}

// ---- inetd.conf inputs ---------------------------------------------------------------------------

const INETD_FIELDS = [
  ['echo', 'ftp', 'tftp', '7777', 'tcpmux/+date', 'rstatd/1-3', '127.0.0.1:echo', '[::1]:echo', '*:ftp', 'x'.repeat(70), 'unknown-svc', ''],
  ['stream', 'dgram', 'raw', 'rdm', 'seqpacket', 'bogus'],
  ['tcp', 'udp', 'tcp6', 'udp6', 'tcp46', 'rpc/udp', 'rpc/tcp', 'unix', 'faith/tcp', 'sctp', 'tcp,sndbuf=1k', 'bogus'],
  ['nowait', 'wait', 'nowait.400', 'nowait.0', 'wait.1', 'nowait.x', 'nowait/10/5', 'nowait:10', 'maybe'],
  ['root', 'nobody', 'root:root', 'root.wheel', 'nobody:nogroup/daemon', 'ghost', 'a.b.c:d', ':', '.'],
  ['internal', '/usr/sbin/tcpd', '/bin/true', '/missing/x', 'relative', '-'],
  ['in.ftpd', 'ftpd -l', 'tcpd /usr/sbin/in.telnetd', '$(id)', '"a b"', ''],
];
const inetdLineArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(...INETD_FIELDS.map((f) => fc.constantFrom(...f)), fc.constantFrom(' ', '\t', '  ')).map((a) => a.slice(0, 7).join(a[7] as string)),
  },
  { weight: 1, arbitrary: fc.constantFrom('#', '#@ rest', '127.0.0.1:', '*:', '[::1]:', 'on', ' \tcontinued', '\\', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);
export const inetdTextArb = fc
  .tuple(fc.array(inetdLineArb, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'))
  .map(([lines, nl]) => lines.join(nl) + (lines.length > 0 ? nl : ''));

// ---- running ------------------------------------------------------------------------------------

export interface FuzzOptions {
  kind: FuzzKind;
  numRuns: number;
  seed: number;
  /** Called with each input before it is loaded (to name it if the load never returns). */
  onInput: (input: string) => void;
}

function writeTree(base: string, main: string, others: ReadonlyArray<readonly [string, string]>): string {
  const dir = mkdtempSync(join(base, 'case-'));
  mkdirSync(join(dir, 'd'));
  writeFileSync(join(dir, 'xinetd.conf'), main);
  for (const [name, text] of others) writeFileSync(join(dir, name), text);
  return dir;
}

function describeTree(main: string, others: ReadonlyArray<readonly [string, string]>): string {
  return [`--- xinetd.conf\n${main}`, ...others.map(([n, t]) => `--- ${n}\n${t}`)].join('\n');
}

/** Runs one fuzzing campaign; throws (with fast-check's seed and counterexample) on failure. */
export function runFuzz(opts: FuzzOptions): void {
  const db = fixtureDb();
  const params = { numRuns: opts.numRuns, seed: opts.seed, includeErrorInReport: true };
  if (opts.kind === 'inetd-generated' || opts.kind === 'inetd-mutated') {
    const seeds = seedTexts('inetd').texts;
    const arb = opts.kind === 'inetd-generated' ? inetdTextArb : fc.tuple(fc.constantFrom(...seeds), mutationsArb).map(([t, m]) => mutate(t, m));
    fc.assert(
      fc.property(arb, (text) => {
        opts.onInput(text);
        checkInetdText(text, db);
      }),
      params,
    );
    return;
  }
  const base = mkdtempSync(join(tmpdir(), 'tsinetd-fuzz-'));
  try {
    const seeds = seedTexts('xinetd').texts;
    const arb: fc.Arbitrary<[string, Array<[string, string]>]> =
      opts.kind === 'xinetd-generated'
        ? xinetdTreeArb.map(([main, others]) => [main, others.map(([n, t]) => [n, t] as [string, string])])
        : fc
            .tuple(
              fc.constantFrom(...seeds),
              mutationsArb,
              fc.array(fc.tuple(fc.constantFrom(...TREE_FILES.slice(1)), fc.constantFrom(...seeds), mutationsArb), { maxLength: 2 }),
            )
            .map(([t, m, others]) => [mutate(t, m), others.map(([n, o, om]) => [n, mutate(o, om)] as [string, string])]);
    fc.assert(
      fc.property(arb, ([main, others]) => {
        opts.onInput(describeTree(main, others));
        const dir = writeTree(base, main, others);
        try {
          checkXinetdTree(dir, db);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      params,
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
