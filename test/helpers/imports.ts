// The import graph of the sources, read with TypeScript's own parser (no regular expressions: a
// string or comment that looks like an import is not one), for the layering test
// (test/contract/layering.test.ts). Pure functions over file texts, so that the test can also
// check them on small made-up trees.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** One import (or re-export) statement of a module. */
export interface ImportEdge {
  /** The module specifier as written ('./table.js', 'node:net', '../grammar/xinetd.js'). */
  specifier: string;
  /** For a relative specifier: the imported source file, relative to the scanned root ('table.ts'); else null. */
  target: string | null;
  /** true when it vanishes from the compiled JavaScript (`import type`, `export type`, only `type` names). */
  typeOnly: boolean;
  /** The value names it imports ('*' for a namespace or default import; empty for a bare `import 'x'`). */
  names: string[];
  /** 1-based line of the statement. */
  line: number;
}

export interface ModuleImports {
  /** The file, relative to the scanned root, with '/' separators ('acl.ts', 'serve/server.ts'). */
  file: string;
  imports: ImportEdge[];
  /** `import(expr)` or `require(expr)` calls whose module is not a string literal: the graph cannot follow them. */
  unfollowable: number[];
}

/** The repository root: the nearest folder above this file that holds package.json (any build depth). */
export function repoRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

/** Every .ts file under `dir`, at any depth, relative to it with '/' separators, sorted. */
export function tsFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.ts') && !n.endsWith('.d.ts')) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** The texts of the .ts files under `dir` (file relative to `dir` → text). */
export function readTree(dir: string): Map<string, string> {
  return new Map(tsFilesUnder(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/**
 * The imports of one module. A relative specifier ending in .js names the .ts source beside it
 * (NodeNext resolution); `files` is the set of known sources, to resolve against.
 */
export function importsOf(file: string, text: string, files: ReadonlySet<string>): ModuleImports {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const imports: ImportEdge[] = [];
  const unfollowable: number[] = [];
  const lineOf = (n: ts.Node): number => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const add = (node: ts.Node, specifier: string, typeOnly: boolean, names: string[]): void => {
    imports.push({ specifier, target: resolveRelative(file, specifier, files), typeOnly, names, line: lineOf(node) });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const clause = n.importClause;
      if (clause === undefined) add(n, n.moduleSpecifier.text, false, []);
      else {
        const names: string[] = [];
        if (clause.phaseModifier !== ts.SyntaxKind.TypeKeyword) {
          if (clause.name !== undefined) names.push('*');
          const b = clause.namedBindings;
          if (b !== undefined && ts.isNamespaceImport(b)) names.push('*');
          if (b !== undefined && ts.isNamedImports(b)) {
            for (const e of b.elements) if (!e.isTypeOnly) names.push((e.propertyName ?? e.name).text);
          }
        }
        add(n, n.moduleSpecifier.text, names.length === 0, names);
      }
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier !== undefined && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.exportClause;
      const names = n.isTypeOnly
        ? []
        : c === undefined || ts.isNamespaceExport(c)
          ? ['*']
          : c.elements.filter((e) => !e.isTypeOnly).map((e) => (e.propertyName ?? e.name).text);
      add(n, n.moduleSpecifier.text, names.length === 0, names);
    } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) {
      const e = n.moduleReference.expression;
      if (ts.isStringLiteral(e)) add(n, e.text, n.isTypeOnly, n.isTypeOnly ? [] : ['*']);
      else unfollowable.push(lineOf(n));
    } else if (
      ts.isCallExpression(n) &&
      (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === 'require'))
    ) {
      const a = n.arguments[0];
      if (a !== undefined && ts.isStringLiteralLike(a)) add(n, a.text, false, ['*']);
      else unfollowable.push(lineOf(n));
    } else if (ts.isImportTypeNode(n)) {
      // `import('x').T` in a type position: a type-only edge.
      const arg = n.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) add(n, arg.literal.text, true, []);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return { file, imports, unfollowable };
}

/** The source file a relative specifier names ('./x.js' from 'a/b.ts' → 'a/x.ts'), or null when it is not relative or not among `files`. */
function resolveRelative(from: string, specifier: string, files: ReadonlySet<string>): string | null {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return null;
  const joined = posix.normalize(posix.join(posix.dirname(from), specifier));
  for (const candidate of [joined.replace(/\.js$/, '.ts'), `${joined}.ts`, posix.join(joined, 'index.ts')]) {
    if (files.has(candidate)) return candidate;
  }
  return null;
}

/** The import graph of a tree of sources (file → its imports). */
export function importGraph(tree: ReadonlyMap<string, string>): Map<string, ModuleImports> {
  const files = new Set(tree.keys());
  return new Map([...tree].map(([f, text]) => [f, importsOf(f, text, files)]));
}

/**
 * The import cycles: each strongly connected component of more than one module, or a module that
 * imports itself, as its sorted member list (Tarjan's algorithm). `typeOnly` edges count unless
 * `runtimeOnly` is set.
 */
export function importCycles(graph: ReadonlyMap<string, ModuleImports>, runtimeOnly = false): string[][] {
  const edges = new Map<string, string[]>();
  for (const [f, m] of graph) {
    edges.set(
      f,
      m.imports.filter((e) => e.target !== null && !(runtimeOnly && e.typeOnly)).map((e) => e.target as string),
    );
  }
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const members: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        members.push(w);
      } while (w !== v);
      if (members.length > 1 || (edges.get(v) ?? []).includes(v)) out.push(members.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) connect(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The modules `from` reaches through relative imports (itself excluded), with the chain to each. */
export function reachable(graph: ReadonlyMap<string, ModuleImports>, from: string, runtimeOnly = false): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  const queue: string[][] = [[from]];
  while (queue.length > 0) {
    const chain = queue.shift()!;
    const last = chain[chain.length - 1]!;
    for (const e of graph.get(last)?.imports ?? []) {
      if (e.target === null || (runtimeOnly && e.typeOnly) || e.target === from || chains.has(e.target)) continue;
      const next = [...chain, e.target];
      chains.set(e.target, next);
      queue.push(next);
    }
  }
  return chains;
}

/** A module's name without its folder or extension ('serve/server.ts' → 'server'), the key the layering rules use. */
export function moduleName(file: string): string {
  return posix.basename(file).replace(/\.ts$/, '');
}
