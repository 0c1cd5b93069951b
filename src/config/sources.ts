// Reading the configuration tree: the main file, `include FILE` and `includedir DIR`.
//
// This is the only module that reads configuration files. It follows xinetd's order: the entries
// of a file are taken in order, and an include directive is replaced on the spot by the entries
// of the file (or of each file of the directory) it names. includedir reads the directory's names
// sorted byte-wise (the C locale), skips names containing '.' or ending in '~' (editor and
// package-manager leftovers) and skips what is not a regular file. A file or directory that
// cannot be read is a located diagnostic; loading goes on.
//
// Unlike xinetd, a relative include path is taken relative to the directory of the file that
// names it (xinetd uses its working directory). An include cycle is not followed; xinetd follows
// it until it crashes and starts nothing, so `startsNothing` tells the loader to start no service.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { diag, type Diagnostic, type SourcePosition } from '../diagnostics.js';
import { parseConfigText, type ParsedFile } from './xinetd/parse.js';
import { versus } from '../app/versus.js';
import type { DefaultsNode, ServiceNode } from './xinetd/syntax.js';
import { fsReason } from '../sys/errno.js';

/** An entry of the tree in xinetd's reading order. `unit` numbers each reading of a file. */
export interface TreeEntry {
  node: ServiceNode | DefaultsNode;
  unit: number;
}

export interface ConfigTree {
  entries: TreeEntry[];
  /** Every file read, in reading order. */
  files: string[];
  /** The parsed files, in reading order (a file included twice appears twice). */
  parsed: ParsedFile[];
  diagnostics: Diagnostic[];
  /** Set when xinetd would start no service from this tree (an include cycle crashes it). */
  startsNothing: boolean;
}

/** Nesting depth at which include chains are cut (xinetd has no limit and would recurse forever). */
export const MAX_INCLUDE_DEPTH = 16;

export type ReadResult = { ok: true; text: string } | { ok: false; reason: string };

/** Reads one configuration file as text. */
export function readConfigFile(path: string): ReadResult {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return { ok: false, reason: 'it is a directory (use includedir for a directory)' };
    return { ok: true, text: readFileSync(path, 'utf8') };
  } catch (err) {
    return { ok: false, reason: fsReason(err) };
  }
}

/** Byte-wise comparison of two names, as strcmp() in the C locale orders them. */
export function compareCLocale(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Whether includedir skips this directory entry by name (xinetd: a '.' in it, or a final '~'). */
export function skippedByName(name: string): boolean {
  return name.length === 0 || name.includes('.') || name.endsWith('~');
}

export interface IncludeDirListing {
  /** Full paths of the regular files to read, in order. */
  files: string[];
  /** Entries that are not regular files or cannot be examined. */
  problems: { path: string; reason: string }[];
}

/** The files includedir reads from `dir`, in order; throws the fs error if `dir` cannot be read. */
export function listIncludeDir(dir: string): IncludeDirListing {
  const names = readdirSync(dir)
    .filter((n) => !skippedByName(n))
    .sort(compareCLocale);
  const out: IncludeDirListing = { files: [], problems: [] };
  for (const name of names) {
    const path = join(dir, name);
    try {
      const st = statSync(path);
      if (st.isFile()) out.files.push(path);
      else out.problems.push({ path, reason: 'not a regular file: skipped (as xinetd does)' });
    } catch (err) {
      out.problems.push({ path, reason: `cannot examine it: ${fsReason(err)}` });
    }
  }
  return out;
}

function positionOf(file: string): SourcePosition {
  return { file, line: 1, column: 1 };
}

/**
 * Reads the main configuration file and everything it includes, parsing each file, and returns
 * the entries in xinetd's reading order. Never throws.
 */
export function loadConfigTree(mainFile: string): ConfigTree {
  const tree: ConfigTree = { entries: [], files: [], parsed: [], diagnostics: [], startsNothing: false };
  const main = readConfigFile(mainFile);
  if (!main.ok) {
    tree.diagnostics.push(diag('unreadable-file', 'error', positionOf(mainFile), `cannot read the configuration file ${mainFile}: ${main.reason}`));
    return tree;
  }
  readInto(tree, mainFile, main.text, [resolve(mainFile)]);
  return tree;
}

function readInto(tree: ConfigTree, file: string, text: string, chain: string[]): void {
  const parsed = parseConfigText(text, file);
  const unit = tree.parsed.length;
  tree.files.push(file);
  tree.parsed.push(parsed);
  tree.diagnostics.push(...parsed.diagnostics);
  for (const item of parsed.config.items) {
    if (item.kind === 'service' || item.kind === 'defaults') {
      tree.entries.push({ node: item, unit });
      continue;
    }
    if (item.kind !== 'include' && item.kind !== 'includedir') continue;
    const where: SourcePosition = { file: item.path.loc.file, line: item.path.loc.line, column: item.path.loc.column };
    const target = isAbsolute(item.path.text) ? item.path.text : join(dirname(file), item.path.text);
    if (!isAbsolute(item.path.text)) {
      const message = `a relative path: tsinetd reads ${target}, next to this file; xinetd reads '${item.path.text}' from its working directory (write an absolute path)${versus('may start more')}`;
      tree.diagnostics.push(diag('relative-path', 'warning', where, message, item.path.text.length));
    }
    if (chain.length >= MAX_INCLUDE_DEPTH) {
      tree.diagnostics.push(
        diag(
          'include-depth',
          'error',
          where,
          `includes are nested more than ${MAX_INCLUDE_DEPTH} deep: '${item.path.text}' is not read`,
          item.path.text.length,
        ),
      );
      continue;
    }
    if (item.kind === 'include') {
      includeFile(tree, target, where, item.path.text.length, chain);
      continue;
    }
    let listing: IncludeDirListing;
    try {
      listing = listIncludeDir(target);
    } catch (err) {
      tree.diagnostics.push(diag('unreadable-file', 'error', where, `cannot read the directory ${target}: ${fsReason(err)}`, item.path.text.length));
      continue;
    }
    for (const p of listing.problems) tree.diagnostics.push(diag('includedir-entry', 'warning', where, `${p.path}: ${p.reason}`, item.path.text.length));
    for (const f of listing.files) includeFile(tree, f, where, item.path.text.length, chain);
  }
}

function includeFile(tree: ConfigTree, path: string, where: SourcePosition, length: number, chain: string[]): void {
  const key = resolve(path);
  if (chain.includes(key)) {
    const through = `through ${chain.length} file${chain.length === 1 ? '' : 's'}`;
    const message = `${path} includes itself (${through}): xinetd reads it again and again until it crashes, starting nothing; tsinetd starts none of the services`;
    tree.diagnostics.push(diag('include-cycle', 'error', where, message, length));
    tree.startsNothing = true;
    return;
  }
  const r = readConfigFile(path);
  if (!r.ok) {
    tree.diagnostics.push(diag('unreadable-file', 'error', where, `cannot read the included file ${path}: ${r.reason}`, length));
    return;
  }
  readInto(tree, path, r.text, [...chain, key]);
}
