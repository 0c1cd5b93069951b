// The shape of the house as a contract: the import graph of src/ (every .ts file at any depth,
// read with TypeScript's parser) has no cycle, the pure decision modules do no I/O of their own
// and reach no socket or process code, the entry points are imported only from above, the
// generated parsers only through their typed wrappers, the shared contracts carry types only,
// and the TSINETD_* variables are read by options.ts alone.
// Exceptions that exist today are listed below, each with its reason, to shrink later: an entry
// that is no longer needed fails the test too, so the lists cannot go stale.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';
import { importCycles, importGraph, importsOf, moduleName, reachable, readTree, repoRoot, type ModuleImports } from '../helpers/imports.js';

const ROOT = repoRoot();
const SRC = join(ROOT, 'src');
/** Fewer modules than this means the scan went wrong (a folder not descended into), not that src/ shrank. */
const MIN_MODULES = 60;

/**
 * The pure decision modules and shared definitions (by module name, in any folder): functions of
 * their arguments, clock and resolver injected (STYLE.md §3.4). Their own imports do no I/O, and
 * nothing they import at run time reaches a module that does socket or process I/O.
 */
const PURE = [
  'limits',
  'acl',
  'reload',
  'validate',
  'validate-across',
  'service-kind',
  'errno',
  'build',
  'values',
  'attributes',
  'service-defaults',
  'hosts-addr',
  'hosts-syntax',
  'hosts-options',
  'hosts-match',
  'hosts-lint',
  'admission-types',
  'table',
  'peer',
  'diagnostics',
  'syntax',
  'log-types',
  'log-format',
  'token-bucket',
  'fail-log-limiter',
  'versus',
  'numbers',
  'spawnd-protocol',
  'spawnd-messages',
  'listen-plan',
  'service-needs',
  'acl-address',
  'acl-entry',
  'hosts-compile',
  'build-attributes',
  'diagnostic-codes',
  'message-codes',
  'bounded-table',
  'invariant',
  'attribute-words',
  'attribute-apply',
  'attribute-write',
  'attribute-dump',
];

/** The shared contracts: types that the layers exchange, no behaviour, so every import is type-only. */
const CONTRACTS = ['table', 'peer', 'diagnostics', 'log-types', 'spawn-types', 'admission-types', 'syntax'];

/** Built-in modules that do I/O. A pure module may take node:net's address helpers, nothing else of it. */
const IO_BUILTINS = [
  'node:net',
  'node:dgram',
  'node:child_process',
  'node:http',
  'node:https',
  'node:tls',
  'node:dns',
  'node:dns/promises',
  'node:fs',
  'node:fs/promises',
  'node:cluster',
  'node:worker_threads',
  'winston',
];
const NET_ADDRESS_HELPERS = new Set(['isIP', 'isIPv4', 'isIPv6']);
/** Built-in modules whose run-time import makes a module one that does socket or process I/O. */
const SOCKET_OR_PROCESS = [
  'node:net',
  'node:dgram',
  'node:child_process',
  'node:http',
  'node:https',
  'node:tls',
  'node:dns',
  'node:dns/promises',
  'node:cluster',
];

/** Cycles allowed today (sorted member names), each with why. None today: keep it that way. */
const ALLOWED_CYCLES: ReadonlyArray<{ members: string[]; why: string }> = [];

/** A pure module's own I/O imports allowed today: `${module} ${specifier}` → why. */
const ALLOWED_IO: ReadonlyMap<string, string> = new Map<string, string>([]);

/** Run-time edges from a pure module into the I/O side allowed today: `${from} -> ${to}` → why. */
const ALLOWED_REACH: ReadonlyMap<string, string> = new Map<string, string>([]);

/** Entry points: who alone may import them. */
const IMPORTED_ONLY_BY: ReadonlyMap<string, readonly string[]> = new Map([
  ['bin', []],
  ['cli', ['bin']],
  ['daemon', ['cli']],
  ['daemonize', ['daemon']],
]);

/** The generated parsers (grammar/*.peggy → build/grammar/*.js) and the one typed wrapper of each. */
const GRAMMAR_WRAPPERS: ReadonlyMap<string, string> = new Map([
  ['xinetd', 'parse'],
  ['inetd', 'inetd-syntax'],
  ['hosts', 'hosts-syntax'],
]);

const graph = importGraph(readTree(SRC));
const byName = new Map([...graph.values()].map((m) => [moduleName(m.file), m]));
const nameOf = (file: string): string => moduleName(file);
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
const declared = new Set([...Object.keys(packageJson['dependencies'] ?? {}), ...Object.keys(packageJson['devDependencies'] ?? {})]);

function mod(name: string): ModuleImports {
  const m = byName.get(name);
  assert.ok(m !== undefined, `src/ has a module named ${name} (rename it here too)`);
  return m;
}

/** Does this import do socket or process I/O at run time? */
function socketOrProcess(e: ModuleImports['imports'][number]): boolean {
  if (e.typeOnly || !SOCKET_OR_PROCESS.includes(e.specifier)) return false;
  return e.specifier !== 'node:net' || e.names.some((n) => !NET_ADDRESS_HELPERS.has(n));
}

describe('the layering of src/', () => {
  test(`the scan reads every module of src/ at any depth (at least ${MIN_MODULES}), each name once`, () => {
    assert.ok(graph.size >= MIN_MODULES, `only ${graph.size} modules found under ${SRC}`);
    const names = [...graph.keys()].map(nameOf);
    const twice = names.filter((n, i) => names.indexOf(n) !== i);
    assert.deepEqual(twice, [], 'the rules name modules without their folder: two files may not share a name');
    const edges = [...graph.values()].reduce((n, m) => n + m.imports.length, 0);
    assert.ok(edges >= 2 * graph.size, `only ${edges} imports read from ${graph.size} modules`);
  });

  test('every import can be followed: relative ones name a source file or a generated parser, others a built-in or a declared package', () => {
    const bad: string[] = [];
    for (const m of graph.values()) {
      for (const l of m.unfollowable) bad.push(`${m.file}:${l}: a module named by an expression`);
      for (const e of m.imports) {
        const at = `${m.file}:${e.line}: ${e.specifier}`;
        if (e.specifier.startsWith('.')) {
          if (e.target !== null) continue;
          const grammar = /^grammar\/([a-z]+)\.js$/.exec(posix.normalize(posix.join('src', posix.dirname(m.file), e.specifier)));
          if (grammar === null || !existsSync(join(ROOT, 'grammar', `${grammar[1]}.peggy`))) bad.push(`${at}: no such source`);
        } else if (e.specifier.startsWith('node:')) continue;
        else if (!declared.has(e.specifier.startsWith('@') ? e.specifier.split('/').slice(0, 2).join('/') : e.specifier.split('/')[0]!)) {
          bad.push(`${at}: not in package.json (it works only while another package pulls it in)`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });

  test('no import cycles (type-only imports count), beyond the listed ones', () => {
    const cycles = importCycles(graph).map((c) => c.map(nameOf).sort());
    const allowed = ALLOWED_CYCLES.map((c) => [...c.members].sort().join(' '));
    const found = cycles.map((c) => c.join(' '));
    assert.deepEqual(
      found.filter((c) => !allowed.includes(c)),
      [],
      'import cycles (break them, or list them with a reason)',
    );
    assert.deepEqual(
      allowed.filter((c) => !found.includes(c)),
      [],
      'listed cycles that are gone: remove them from ALLOWED_CYCLES',
    );
  });

  test('pure decision modules do no I/O of their own', () => {
    const bad: string[] = [];
    const used = new Set<string>();
    for (const name of PURE) {
      for (const e of mod(name).imports) {
        if (e.typeOnly || !IO_BUILTINS.includes(e.specifier)) continue;
        if (e.specifier === 'node:net' && e.names.every((n) => NET_ADDRESS_HELPERS.has(n))) continue;
        const key = `${name} ${e.specifier}`;
        if (ALLOWED_IO.has(key)) used.add(key);
        else bad.push(`${mod(name).file}:${e.line}: ${e.specifier} { ${e.names.join(', ')} }`);
      }
    }
    assert.deepEqual(bad, []);
    assert.deepEqual(
      [...ALLOWED_IO.keys()].filter((k) => !used.has(k)),
      [],
      'ALLOWED_IO entries no longer needed: remove them',
    );
  });

  test('pure decision modules reach no module that does socket or process I/O, through any chain of run-time imports', () => {
    const io = new Set([...graph.values()].filter((m) => m.imports.some(socketOrProcess)).map((m) => m.file));
    // The graph without the allowed edges.
    const used = new Set<string>();
    const cut = new Map<string, ModuleImports>();
    for (const [f, m] of graph) {
      cut.set(f, {
        ...m,
        imports: m.imports.filter((e) => {
          const key = e.target === null ? '' : `${nameOf(f)} -> ${nameOf(e.target)}`;
          if (!ALLOWED_REACH.has(key) || !PURE.includes(nameOf(f))) return true;
          if (!e.typeOnly) used.add(key);
          return false;
        }),
      });
    }
    const bad: string[] = [];
    for (const name of PURE) {
      for (const [target, chain] of reachable(cut, mod(name).file, true)) {
        if (io.has(target)) bad.push(chain.map(nameOf).join(' -> '));
      }
    }
    assert.deepEqual(bad, []);
    assert.deepEqual(
      [...ALLOWED_REACH.keys()].filter((k) => !used.has(k)),
      [],
      'ALLOWED_REACH entries no longer needed: remove them',
    );
  });

  test('the entry points are imported only from above: bin by nobody, cli by bin, daemon by cli', () => {
    for (const [name, importers] of IMPORTED_ONLY_BY) {
      const file = mod(name).file;
      const by = [...graph.values()]
        .filter((m) => m.imports.some((e) => e.target === file))
        .map((m) => nameOf(m.file))
        .sort();
      assert.deepEqual(by, [...importers].sort(), `${name} is imported by`);
    }
  });

  test('each generated parser is imported by its typed wrapper alone', () => {
    const importers = new Map<string, Set<string>>();
    for (const m of graph.values()) {
      for (const e of m.imports) {
        const g = /(?:^|\/)grammar\/([a-z]+)\.js$/.exec(e.specifier);
        if (g !== null && e.target === null) importers.set(g[1]!, (importers.get(g[1]!) ?? new Set()).add(nameOf(m.file)));
      }
    }
    assert.deepEqual(new Map([...importers].map(([g, s]) => [g, [...s].sort().join(' ')])), new Map([...GRAMMAR_WRAPPERS].map(([g, w]) => [g, w])));
  });

  test('the TSINETD_* variables are read in one place, options.ts fromEnv()', () => {
    // A variable's name as a string anywhere else would be a second reader (env['TSINETD_X']).
    const bad: string[] = [];
    for (const [file, text] of readTree(SRC)) {
      if (nameOf(file) === 'options') continue;
      const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
      const visit = (n: ts.Node): void => {
        if (ts.isStringLiteralLike(n) && /^TSINETD_[A-Z0-9_]+$/.test(n.text))
          bad.push(`${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}: '${n.text}'`);
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
    assert.deepEqual(bad, []);
    assert.ok(/export function fromEnv\(/.test(readFileSync(join(SRC, mod('options').file), 'utf8')), 'options.ts defines fromEnv()');
  });

  test("Node's private internals are reached in one place, uv-handles.ts (each use there has a fallback)", () => {
    // Any mention counts, in code, strings or comments: a second user is found before it ships.
    // (`.binding` however `process` is spelt before it; Node's *_wrap binding names.)
    const PRIVATE = /\b_handle\b|\.\s*binding\b|\[\s*['"`]binding['"`]|\binternalBinding\b|\blinkedBinding\b|['"`][a-z]+_wrap['"`]/;
    const bad: string[] = [];
    let inOwner = 0;
    for (const [file, text] of readTree(SRC)) {
      text.split('\n').forEach((line, i) => {
        if (!PRIVATE.test(line)) return;
        if (nameOf(file) === 'uv-handles') inOwner++;
        else bad.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(bad, [], 'move these behind uv-handles.ts, with a fallback for when the internal is gone');
    // The scan sees what it looks for: the owner itself uses both kinds.
    const owner = readFileSync(join(SRC, mod('uv-handles').file), 'utf8');
    assert.ok(inOwner >= 2 && /_handle/.test(owner) && /binding/.test(owner), 'uv-handles.ts uses _handle and process.binding');
  });

  test('the shared contracts import types only', () => {
    const bad = CONTRACTS.flatMap((name) =>
      mod(name)
        .imports.filter((e) => !e.typeOnly)
        .map((e) => `${mod(name).file}:${e.line}: ${e.specifier}`),
    );
    assert.deepEqual(bad, []);
  });
});

describe('the import reader', () => {
  const tree = (files: Record<string, string>): Map<string, ModuleImports> => importGraph(new Map(Object.entries(files)));

  test('follows imports, re-exports, dynamic imports and import types into folders, and tells type-only ones apart', () => {
    const g = tree({
      'a.ts': [
        "import { x, type T } from './sub/b.js';",
        "import type { U } from './c.js';",
        "import { type V } from './c.js';",
        "export * from './c.js';",
        "export type { W } from './sub/b.js';",
        "const s = 'import { y } from \"./fake.js\"'; // import './fake.js'",
        "const m = await import('node:net');",
        "let q: import('./c.js').Q;",
        "import './side.js';",
      ].join('\n'),
      'sub/b.ts': "import { isIP } from 'node:net';\nimport * as net from 'node:net';\nconst p = require(name);",
      'c.ts': '',
      'side.ts': '',
    });
    const a = g.get('a.ts')!.imports.map((e) => [e.specifier, e.target, e.typeOnly, e.names.join(',')]);
    assert.deepEqual(a, [
      ['./sub/b.js', 'sub/b.ts', false, 'x'],
      ['./c.js', 'c.ts', true, ''],
      ['./c.js', 'c.ts', true, ''],
      ['./c.js', 'c.ts', false, '*'],
      ['./sub/b.js', 'sub/b.ts', true, ''],
      ['node:net', null, false, '*'],
      ['./c.js', 'c.ts', true, ''],
      ['./side.js', 'side.ts', false, ''],
    ]);
    const b = g.get('sub/b.ts')!;
    assert.deepEqual(
      b.imports.map((e) => e.names.join(',')),
      ['isIP', '*'],
    );
    assert.deepEqual(b.unfollowable, [3]);
  });

  test('finds cycles, type-only edges included unless asked for run-time ones, and the chain to what a module reaches', () => {
    const g = tree({
      'a.ts': "import { b } from './b.js';",
      'b.ts': "import { c } from './dir/c.js';",
      'dir/c.ts': "import type { A } from '../a.js';\nimport { d } from './d.js';",
      'dir/d.ts': "import { d } from './d.js';",
      'e.ts': "import { a } from './a.js';",
    });
    assert.deepEqual(importCycles(g), [['a.ts', 'b.ts', 'dir/c.ts'], ['dir/d.ts']]);
    assert.deepEqual(importCycles(g, true), [['dir/d.ts']]);
    assert.deepEqual(reachable(g, 'e.ts').get('dir/d.ts'), ['e.ts', 'a.ts', 'b.ts', 'dir/c.ts', 'dir/d.ts']);
    assert.equal(reachable(g, 'dir/c.ts', true).has('a.ts'), false);
  });

  test('a relative import of a missing file has no target', () => {
    const m = importsOf('x/a.ts', "import { z } from '../gone.js';", new Set(['x/a.ts']));
    assert.equal(m.imports[0]!.target, null);
  });
});
