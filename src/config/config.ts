// Config loading entry point: the xinetd configuration tree, plus classic inetd.conf files,
// into one ServiceTable.
//
//   sources.ts (read + parse every file, includes in order) → build.ts (Services, xinetd
//   semantics) → validate.ts (checks of each service) → findings applied: 'disable' turns the
//   service off, 'problem' adds to its `problems` → inetd files (src/config/inetd/inetd.ts) appended, their
//   services filled from the xinetd defaults as xinetd fills those of -inetd_compat
//   (inetd-defaults.ts) → the checks across services over the whole table (checkAcross: port
//   clashes between all of them, in binding order; duplicate ids among the xinetd services).
// Both dialects also get the security checks: services a daemon that is not root cannot start
// (privileges.ts) and configuration files other users can write (config-permissions.ts).
//
// Never throws on bad input: every problem is a diagnostic in the table.

import { accessSync, constants, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { buildServices, startNone, type BuiltService, type XinetdDefaults } from './xinetd/build.js';
import { permissionWarnings, statMode, type IncludeDirRef, type ModeProbe } from './config-permissions.js';
import { about, diag, type Diagnostic } from '../diagnostics.js';
import { serverAccessWarning, systemPathLookup, type PathLookup } from './exec-access.js';
import { loadInetdFile, type InetdDialect } from './inetd/inetd.js';
import { applyDefaultsToInetd } from './inetd/inetd-defaults.js';
import { currentIdentity, privilegeFindings, type DaemonIdentity, type PrivilegeMode } from '../sys/privileges.js';
import { loadConfigTree, type ConfigTree } from './sources.js';
import { systemDb, type SysDb } from '../sys/sysdb.js';
import type { Service, ServiceTable } from '../table.js';
import { checkServices, type CheckEnv, type Finding, type PathInfo } from './validate.js';
import { checkDuplicateIds, checkPortClashes, checkRpcClashes, placedBlock, placedLine } from './validate-across.js';
import { present } from '../util/invariant.js';
import { oncePerKey } from '../util/once-per-key.js';

export interface LoadRequest {
  /** The xinetd configuration file (`-f`); null to load only inetd files. */
  configFile: string | null;
  /** Classic inetd.conf files, loaded after the xinetd configuration. */
  inetdFiles: string[];
  /** How to read them (default 'auto': decided per file). */
  inetdDialect?: InetdDialect;
  /**
   * The one of them read because of -inetd_compat (/etc/inetd.conf): xinetd fills its services
   * completely, its implicit connection rate included (inetd-defaults.ts).
   */
  inetdCompatFile?: string;
  /**
   * A reload: the services bound already (reload.ts keepsSockets). They bind before the others,
   * so in a port clash they keep the port, as under xinetd, whose reload binds only what is new.
   */
  boundFirst?: (s: Service) => boolean;
}

export interface LoadDeps {
  db?: SysDb;
  /** What a path is (the server check); defaults to the real file system. */
  probe?: (path: string) => PathInfo | null;
  /** Who the daemon runs as (default: this process): services it cannot start are refused. */
  identity?: DaemonIdentity;
  /** 'refuse' (default: the daemon) or 'warn' (--check, --dump): see privileges.ts. */
  privileges?: PrivilegeMode;
  /** File modes for the warnings about configuration files others can write (default: stat). */
  modes?: ModeProbe;
  /** Owners and modes for the check that a service's user can execute its server (default: stat). */
  paths?: PathLookup;
}

/**
 * exec-access.ts's check with these dependencies: why a service's user cannot run its server.
 * Off when the caller fakes the file system (`probe`) without giving owners and modes (`paths`).
 */
function serverAccess(deps: LoadDeps): (s: Service) => string | null {
  if (deps.probe !== undefined && deps.paths === undefined) return () => null;
  const ctx = {
    db: deps.db ?? systemDb,
    identity: deps.identity ?? currentIdentity(),
    mode: deps.privileges ?? 'refuse',
    lookup: deps.paths ?? systemPathLookup,
  };
  return (s) => serverAccessWarning(s, ctx);
}

/** The warnings of config-permissions.ts for these files and includedir directories. */
function permissionDiagnostics(files: readonly string[], includeDirs: readonly IncludeDirRef[], db: SysDb, deps: LoadDeps): Diagnostic[] {
  const euid = (deps.identity ?? currentIdentity()).uid;
  return permissionWarnings(files, includeDirs, { euid, stat: deps.modes ?? statMode, userName: (uid) => db.user(String(uid))?.name });
}

/** The includedir directives of the tree, with the directory each names (as sources.ts resolves it). */
function includeDirsOf(tree: ConfigTree): IncludeDirRef[] {
  const out: IncludeDirRef[] = [];
  for (const parsed of tree.parsed) {
    for (const item of parsed.config.items) {
      if (item.kind !== 'includedir') continue;
      const dir = isAbsolute(item.path.text) ? item.path.text : join(dirname(parsed.file), item.path.text);
      out.push({ dir, at: { file: item.path.loc.file, line: item.path.loc.line, column: item.path.loc.column }, length: item.path.text.length });
    }
  }
  return out;
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
  /** The final defaults, which inetd.conf services loaded with this configuration take from. */
  defaults: XinetdDefaults;
}

/** An xinetd tree read, built and checked service by service; the checks across services are still to run. */
interface XinetdPart {
  built: BuiltService[];
  diagnostics: Diagnostic[];
  files: string[];
  defaults: XinetdDefaults;
}

function readXinetdTree(configFile: string, deps: LoadDeps): XinetdPart {
  const db = deps.db ?? systemDb;
  const env: CheckEnv = {
    db,
    // Asked once per path in one load: many services share one server program.
    probe: oncePerKey(deps.probe ?? probePath),
    identity: deps.identity ?? currentIdentity(),
    privileges: deps.privileges ?? 'refuse',
    serverAccess: serverAccess(deps),
  };
  const tree = loadConfigTree(configFile);
  const built = buildServices(tree.entries, db);
  if (tree.startsNothing) startNone(built.services);
  const findings = checkServices(built.services, env);
  applyFindings(built.services, findings);
  const permissions = permissionDiagnostics(tree.files, includeDirsOf(tree), db, deps);
  return {
    built: built.services,
    diagnostics: [
      ...tree.diagnostics,
      ...permissions,
      ...built.diagnostics,
      ...findings.map((f) => about(f.diagnostic, entryOf(built.services, f.index).service.id)),
    ],
    files: tree.files,
    defaults: built.defaults,
  };
}

/**
 * The checks across services, over the whole table: port clashes and RPC registrations between
 * every service the run loads, in binding order (xinetd's, then each inetd.conf file's; on a reload those bound
 * already, `boundFirst`, before all of them), then duplicate ids among the xinetd services.
 * Turns the losers of a clash off; returns the diagnostics.
 */
function checkAcross(xinetd: readonly BuiltService[], inetd: readonly Service[], boundFirst?: (s: Service) => boolean): Diagnostic[] {
  const inFileOrder = [...xinetd.map(placedBlock), ...inetd.map(placedLine)];
  const placed =
    boundFirst === undefined ? inFileOrder : [...inFileOrder.filter((p) => boundFirst(p.service)), ...inFileOrder.filter((p) => !boundFirst(p.service))];
  const on = (i: number): boolean => entryOf(placed, i).service.enabled;
  const clashes = checkPortClashes(placed, on);
  for (const f of clashes) if (f.effect === 'disable') entryOf(placed, f.index).service.enabled = false;
  const rpc = checkRpcClashes(placed, on);
  for (const f of rpc) if (f.effect === 'disable') entryOf(placed, f.index).service.enabled = false;
  const duplicates = checkDuplicateIds(xinetd, on);
  return [
    ...[...clashes, ...rpc].map((f) => about(f.diagnostic, entryOf(placed, f.index).service.id)),
    ...duplicates.map((f) => about(f.diagnostic, entryOf(xinetd, f.index).service.id)),
  ];
}

/** The entry a finding names by index: a check's findings index the very list it was given. */
function entryOf<T>(list: readonly T[], index: number): T {
  return present(list[index], `entry ${index} of the list the check was given`);
}

/** Loads an xinetd configuration tree (main file and includes). Never throws. */
export function loadXinetdConfig(configFile: string, deps: LoadDeps = {}): XinetdLoad {
  const x = readXinetdTree(configFile, deps);
  const across = checkAcross(x.built, []);
  return {
    services: x.built.map((b) => b.service),
    diagnostics: sortByFile([...x.diagnostics, ...across], x.files),
    files: x.files,
    defaults: x.defaults,
  };
}

function applyFindings(services: BuiltService[], findings: readonly Finding[]): void {
  for (const f of findings) {
    const b = entryOf(services, f.index);
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

/** Loads the whole table. It reads synchronously; the Promise is the shape of every table loader (daemon.ts's loadTable). */
export function loadConfig(req: LoadRequest, deps: LoadDeps = {}): Promise<ServiceTable> {
  const table: ServiceTable = { services: [], diagnostics: [], files: [] };
  const x = req.configFile === null ? null : readXinetdTree(req.configFile, deps);
  if (x !== null) {
    table.diagnostics.push(...x.diagnostics);
    table.files.push(...x.files);
  }
  const inetd: Service[] = [];
  for (const file of req.inetdFiles) {
    const r = loadInetdFile(file, undefined, req.inetdDialect ?? 'auto');
    if (x !== null) applyDefaultsToInetd(r.services, x.defaults, file === req.inetdCompatFile);
    inetd.push(...r.services);
    (table.inetdDialects ??= []).push({ file, dialect: r.dialect });
    table.diagnostics.push(...permissionDiagnostics([file], [], deps.db ?? systemDb, deps), ...r.diagnostics, ...inetdPrivileges(r.services, deps));
    table.files.push(file);
  }
  const across = checkAcross(x?.built ?? [], inetd, req.boundFirst);
  table.services.push(...(x?.built ?? []).map((b) => b.service), ...inetd);
  table.diagnostics = sortByFile([...table.diagnostics, ...across], table.files);
  return Promise.resolve(table);
}

/** The privilege check (privileges.ts) and exec-access.ts's for inetd.conf services, located at their line. */
function inetdPrivileges(services: readonly Service[], deps: LoadDeps): Diagnostic[] {
  const who = deps.identity ?? currentIdentity();
  const db = deps.db ?? systemDb;
  const out: Diagnostic[] = [];
  const access = serverAccess(deps);
  for (const s of services) {
    if (!s.enabled) continue;
    const why = access(s);
    if (why !== null) out.push(about(diag('access-check', 'warning', { file: s.source.file, line: s.source.line, column: 1 }, why), s.id));
    for (const f of privilegeFindings(s, who, db, deps.privileges ?? 'refuse')) {
      const at = { file: s.source.file, line: s.source.line, column: 1 };
      if (f.kind === 'refuse') {
        out.push(about(diag('privileges', 'error', at, f.message), s.id));
        if (!s.problems.includes(f.problem)) s.problems.push(f.problem);
      } else {
        out.push(about(diag('privileges', 'warning', at, f.message), s.id));
      }
    }
  }
  return out;
}
