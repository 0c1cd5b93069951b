// Config loading entry point: the xinetd configuration tree, plus classic inetd.conf files,
// into one ServiceTable.
//
//   sources.ts (read + parse every file, includes in order) → build.ts (Services, xinetd
//   semantics) → validate.ts (checks) → findings applied: 'disable' turns the service off,
//   'problem' adds to its `problems` → inetd files (src/inetd.ts) appended.
//
// Never throws on bad input: every problem is a diagnostic in the table.

import { accessSync, constants, statSync } from 'node:fs';
import { buildServices, type BuiltService } from './build.js';
import type { Diagnostic } from './diagnostics.js';
import { loadInetdFile } from './inetd.js';
import { loadConfigTree } from './sources.js';
import { systemDb, type SysDb } from './sysdb.js';
import type { Service, ServiceTable } from './table.js';
import { checkDuplicateIds, checkPortClashes, checkServices, type CheckEnv, type Finding, type PathInfo } from './validate.js';

export interface LoadRequest {
  /** The xinetd configuration file (`-f`); null to load only inetd files. */
  configFile: string | null;
  /** Classic inetd.conf files, loaded after the xinetd configuration. */
  inetdFiles: string[];
}

export interface LoadDeps {
  db?: SysDb;
  /** What a path is (the server check); defaults to the real file system. */
  probe?: (path: string) => PathInfo | null;
}

/** stat() + access(X_OK), as xinetd checks `server`. */
export function probePath(path: string): PathInfo | null {
  try {
    const st = statSync(path);
    let executable = true;
    try {
      accessSync(path, constants.X_OK);
    } catch {
      executable = false;
    }
    return { isFile: st.isFile(), isDirectory: st.isDirectory(), executable };
  } catch {
    return null;
  }
}

export interface XinetdLoad {
  services: Service[];
  diagnostics: Diagnostic[];
  files: string[];
}

/** Loads an xinetd configuration tree (main file and includes). Never throws. */
export function loadXinetdConfig(configFile: string, deps: LoadDeps = {}): XinetdLoad {
  const db = deps.db ?? systemDb;
  const env: CheckEnv = { db, probe: deps.probe ?? probePath };
  const tree = loadConfigTree(configFile);
  const built = buildServices(tree.entries, db);
  const findings = checkServices(built.services, env);
  applyFindings(built.services, findings);
  const on = (i: number): boolean => built.services[i]!.service.enabled;
  const clashes = checkPortClashes(built.services, on);
  applyFindings(built.services, clashes);
  const duplicates = checkDuplicateIds(built.services, on);
  const diagnostics = [...tree.diagnostics, ...built.diagnostics, ...[...findings, ...clashes, ...duplicates].map((f) => f.diagnostic)];
  return { services: built.services.map((b) => b.service), diagnostics: sortByFile(diagnostics, tree.files), files: tree.files };
}

function applyFindings(services: BuiltService[], findings: readonly Finding[]): void {
  for (const f of findings) {
    const b = services[f.index]!;
    if (f.effect === 'disable') {
      b.service.enabled = false;
      b.off ??= { kind: 'error' };
    } else if (f.effect === 'problem' && f.problem !== undefined && !b.service.problems.includes(f.problem)) {
      b.service.problems.push(f.problem);
    }
  }
}

/** Diagnostics in reading order of their files, then by line and column (stable otherwise). */
function sortByFile(diagnostics: Diagnostic[], files: readonly string[]): Diagnostic[] {
  const rank = new Map<string, number>();
  files.forEach((f, i) => {
    if (!rank.has(f)) rank.set(f, i);
  });
  const r = (d: Diagnostic): number => rank.get(d.file) ?? -1;
  return diagnostics
    .map((d, i) => ({ d, i }))
    .sort((a, b) => r(a.d) - r(b.d) || a.d.line - b.d.line || a.d.column - b.d.column || a.i - b.i)
    .map((x) => x.d);
}

export async function loadConfig(req: LoadRequest, deps: LoadDeps = {}): Promise<ServiceTable> {
  const table: ServiceTable = { services: [], diagnostics: [], files: [] };
  if (req.configFile !== null) {
    const x = loadXinetdConfig(req.configFile, deps);
    table.services.push(...x.services);
    table.diagnostics.push(...x.diagnostics);
    table.files.push(...x.files);
  }
  for (const file of req.inetdFiles) {
    const r = loadInetdFile(file);
    table.services.push(...r.services);
    table.diagnostics.push(...r.diagnostics);
    table.files.push(file);
  }
  return table;
}
