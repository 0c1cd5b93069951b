// TCP wrappers (hosts.allow / hosts.deny) as xinetd applies them through Debian's libwrap:
// which services are wrapped and under which daemon name, the two rule files (read again
// whenever they change, so an edit applies to the next client without a reload), and the
// lookups a verdict may need (the client's double-reverse host name, its IDENT user, an
// aclexec command). The decision itself is hosts-match.ts (pure); this module feeds it.
//
// Where the check runs (xinetd 2.3.15.3, measured): after every parent check and after
// only_from / no_access, so it is the last step of admission (admission.ts). A refusal is
// `FAIL: <id> libwrap` plus the daemon line
// `libwrap refused connection to <id> (libwrap=<daemon>) from <address>`.
//
// Rule files are looked at with one stat() each per connection; they are parsed again only
// when their identity (device, inode, size, mtime, ctime) changed. libwrap's warnings about a
// file are logged once per version of that file, not for every client.

import { spawn as spawnChild } from 'node:child_process';
import { readFileSync, statSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import type { Diagnostic } from '../../diagnostics.js';
import { parseHostsFile, unreadableTable, emptyTable, type HostsTable } from './hosts-syntax.js';
import { evaluateAccess, type Need, type PatternFile, type ResumePoint, type WrapAnswer, type WrapRequest, type WrapVerdict } from './hosts-match.js';
import { expandOptionText, type WrapOption } from './hosts-options.js';
import { lintHostsTable } from './hosts-lint.js';
import { systemResolver, type NameResolver } from '../acl-resolver.js';
import { systemDb } from '../../sys/sysdb.js';
import { childCredentials } from '../../spawn/child-env.js';
import { lookupIdent, type IdentResult } from '../../serve/ident.js';
import type { LocalEnd } from '../admission-types.js';
import type { Service } from '../../table.js';
import { withTimeout } from '../../util/with-timeout.js';
import { directoriesOf, mayRead, type FileAccess, type Reader } from '../../sys/file-access.js';
import { serviceKind, startsProgram } from '../../service-kind.js';

/** libwrap's RFC931_TIMEOUT on Debian (seconds): the IDENT lookup of `user@host` patterns. */
export const WRAP_IDENT_TIMEOUT_MS = 10_000;

// ---- which services, which name (pure) ----------------------------------------------------

/**
 * Whether TCP wrappers apply to `service`, as it is served: every service unless
 * `flags = NOLIBWRAP`, which the inetd.conf loader sets itself (xinetd does not wrap services
 * read from inetd.conf either), and which activation sets on an RPC service over TCP
 * (service-needs.ts activated()).
 */
export function wrapsService(service: Pick<Service, 'flags'>): boolean {
  return !service.flags.includes('NOLIBWRAP');
}

/**
 * The daemon name libwrap matches the daemon list against, as xinetd 2.3.15.3 chooses it:
 * `libwrap = NAME` first; redirects and internal services by their service *name* (not the
 * id, whatever xinetd.conf(5) says); NAMEINARGS by the basename of the first word of
 * server_args; else the basename of `server`; a service with none of these by its id.
 */
export function wrapDaemonName(service: Pick<Service, 'id' | 'name' | 'libwrap' | 'redirect' | 'type' | 'flags' | 'server' | 'server_argv'>): string {
  if (service.libwrap !== null) return service.libwrap;
  if (serviceKind(service) !== 'program') return service.name;
  const [program] = service.server_argv;
  if (service.flags.includes('NAMEINARGS') && program !== undefined) return basename(program);
  if (service.server !== null) return basename(service.server);
  return service.id;
}

// ---- the client's host name as libwrap finds it (pure, resolver injected) ------------------

/** IPv4-mapped clients are looked up (and matched) as their IPv4 address, as libwrap does. */
export function wrapAddress(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export interface HostnameResult {
  /** The name, `unknown` (no reverse name) or `paranoid` (the double check failed). */
  name: string;
  /** libwrap's warning when the double check failed (logged by the caller). */
  warning: string | null;
}

/**
 * libwrap's double-reverse lookup: the reverse name must resolve back to the address (and the
 * name the forward lookup gives must be the reverse name, which getaddrinfo does not report:
 * the address test stands for both). `localhost` is taken as it is.
 */
export async function wrapHostname(address: string, resolver: NameResolver): Promise<HostnameResult> {
  const addr = wrapAddress(address);
  let names: readonly string[];
  try {
    names = await resolver.reverse(addr);
  } catch {
    names = [];
  }
  const name = names[0];
  if (name === undefined || name === '') return { name: 'unknown', warning: null };
  if (name.toLowerCase() === 'localhost') return { name, warning: null };
  let forward: readonly string[];
  try {
    forward = await resolver.lookupHost(name);
  } catch {
    return { name: 'paranoid', warning: `can't verify hostname: getaddrinfo(${name}) failed` };
  }
  const canonical = (a: string): string => wrapAddress(a).toLowerCase();
  if (forward.some((a) => canonical(a) === addr.toLowerCase())) return { name, warning: null };
  return { name: 'paranoid', warning: `host name/address mismatch: ${addr} != ${name}` };
}

// ---- the rule files (I/O) -------------------------------------------------------------------

interface CachedTable {
  key: string;
  table: HostsTable;
  /** Owner and mode of this version and of the directories above it (null: missing or not stat-able). */
  access: { file: FileAccess; dirs: FileAccess[] } | null;
  /** The table a reader without permission gets (made on first need). */
  denied: HostsTable | null;
}

/** Owner and mode of each directory above `path` (for mayRead); a directory that cannot be stat-ed is left out. */
function directoriesAbove(path: string): FileAccess[] {
  const out: FileAccess[] = [];
  for (const dir of directoriesOf(path)) {
    try {
      const st = statSync(dir);
      out.push({ mode: st.mode, uid: st.uid, gid: st.gid });
    } catch {
      // unreachable for the daemon itself: the file's own stat has failed already
    }
  }
  return out;
}

function identity(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** hosts.allow and hosts.deny as read now. */
export interface RuleTables {
  allow: HostsTable;
  deny: HostsTable;
}

/** hosts.allow and hosts.deny, each re-read when its identity changes. */
export class RuleFiles {
  private readonly cache = new Map<string, CachedTable>();

  constructor(
    readonly allowPath: string,
    readonly denyPath: string,
    /** Called once for each problem of each new version of a file. */
    private readonly report: (d: Diagnostic) => void = () => {},
  ) {}

  /**
   * The two tables as the files are now, as `reader` can read them (absent: as the daemon
   * can). A file `reader` may not read is a table that cannot be opened, as libwrap finds it in
   * xinetd's child (so a 0600 root hosts.deny refuses every client of a `user = nobody` service).
   */
  tables(reader?: Reader): RuleTables {
    return { allow: this.table(this.allowPath, reader), deny: this.table(this.denyPath, reader) };
  }

  private table(path: string, reader: Reader | undefined): HostsTable {
    let st: Stats | undefined;
    try {
      st = statSync(path, { throwIfNoEntry: false });
    } catch (err) {
      return this.remember(
        path,
        `error:${errorText(err)}`,
        () => null,
        () => unreadableTable(path, `cannot open ${path}: ${errorText(err)}`),
      ).table;
    }
    if (st === undefined)
      return this.remember(
        path,
        'missing',
        () => null,
        () => emptyTable(path),
      ).table;
    const file = { mode: st.mode, uid: st.uid, gid: st.gid };
    const entry = this.remember(
      path,
      identity(st),
      () => ({ file, dirs: directoriesAbove(path) }),
      () => {
        try {
          return parseHostsFile(path, readFileSync(path, 'latin1'));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') return emptyTable(path);
          return unreadableTable(path, `cannot open ${path}: ${errorText(err)}`);
        }
      },
    );
    if (reader === undefined || entry.access === null || mayRead(entry.access.file, entry.access.dirs, reader)) return entry.table;
    if (entry.denied === null) {
      entry.denied = unreadableTable(path, `cannot open ${path}: Permission denied (for uid ${reader.uid})`);
      for (const d of entry.denied.diagnostics) this.report(d);
    }
    return entry.denied;
  }

  private remember(path: string, key: string, access: () => CachedTable['access'], load: () => HostsTable): CachedTable {
    const hit = this.cache.get(path);
    if (hit !== undefined && hit.key === key) return hit;
    const entry: CachedTable = { key, table: load(), access: access(), denied: null };
    this.cache.set(path, entry);
    for (const d of entry.table.diagnostics) this.report(d);
    return entry;
  }
}

/**
 * `--check`: the two rule files' problems, as libwrap would log them, and what lintHostsTable
 * finds beyond that (patterns that can never match, options libwrap would refuse).
 */
export function lintRuleFiles(allowPath: string, denyPath: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const tables = new RuleFiles(allowPath, denyPath, (d) => out.push(d)).tables();
  const seen = new Set(out.map((d) => `${d.file}:${d.line}:${d.column}`));
  for (const d of [...lintHostsTable(tables.allow), ...lintHostsTable(tables.deny)]) {
    const key = `${d.file}:${d.line}:${d.column}`;
    // The lint's word wins where both speak of one place (it says what the problem costs).
    if (seen.has(key)) {
      const i = out.findIndex((x) => `${x.file}:${x.line}:${x.column}` === key);
      if (i >= 0) out.splice(i, 1);
    }
    out.push(d);
  }
  return out;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return (err as NodeJS.ErrnoException).code === 'EACCES' ? 'Permission denied' : err.message;
}

// ---- one check, with its lookups --------------------------------------------------------------

/** What a check needs besides the tables (all injected; tests replace them). */
export interface WrapLookups {
  resolver: NameResolver;
  /** IDENT (RFC 1413) lookup of the client's user; lookupIdent by default. */
  ident?: (remote: { address: string; port: number }, local: LocalEnd, timeoutMs: number) => Promise<IdentResult>;
  /** Runs an aclexec command; resolves with its exit status. */
  aclexec?: (command: string) => Promise<number>;
  knownUser?: (name: string) => boolean;
  knownGroup?: (name: string) => boolean;
  /** Daemon log (libwrap's warnings: name mismatch, aclexec status). */
  warn: (message: string) => void;
}

/** What admission's TCP-wrappers step needs: the rule files as they are now, and the lookups. */
export interface Wrappers {
  /** The tables as `service`'s checks read them (absent: as the daemon reads them). */
  tables(service?: Service): RuleTables;
  lookups: WrapLookups;
}

/**
 * TCP wrappers on this system: the two files (re-read when they change; `report` gets each
 * problem of a new version), the system resolver, passwd and group for the user/group options.
 */
export function systemWrappers(
  allowPath: string,
  denyPath: string,
  report: (d: Diagnostic) => void,
  warn: (message: string) => void,
  identPort?: number,
): Wrappers {
  const files = new RuleFiles(allowPath, denyPath, report);
  const readers = new WeakMap<Service, Reader | null>();
  const daemonUid = typeof process.geteuid === 'function' ? process.geteuid() : 0;
  const readerOf = (service: Service): Reader | undefined => {
    let r = readers.get(service);
    if (r === undefined) {
      r = checkingReader(service, daemonUid);
      readers.set(service, r);
    }
    return r ?? undefined;
  };
  return {
    tables: (service) => files.tables(service === undefined ? undefined : readerOf(service)),
    lookups: {
      resolver: systemResolver(),
      ...(identPort !== undefined ? { ident: (remote, local, timeoutMs) => defaultIdent(remote, local, timeoutMs, identPort) } : {}),
      knownUser: (name) => systemDb.user(name) !== undefined,
      knownGroup: (name) => systemDb.group(name) !== undefined,
      warn,
    },
  };
}

/**
 * Who reads the rule files for a client of `service` in xinetd: its forked child, after the
 * switch to the service's user and group (services that start a program); xinetd itself for
 * internal services and redirects. Null: the daemon's own ids.
 */
export function checkingReader(service: Service, daemonUid: number): Reader | null {
  if (!startsProgram(service)) return null;
  const c = childCredentials(service, systemDb, daemonUid);
  if (!c.ok || c.credentials.uid === null) return null;
  return { uid: c.credentials.uid, gid: c.credentials.gid, groups: c.credentials.groups ?? [] };
}

export interface WrapOutcome {
  verdict: WrapVerdict;
  request: WrapRequest;
}

function defaultIdent(remote: { address: string; port: number }, local: LocalEnd, timeoutMs: number, identPort?: number): Promise<IdentResult> {
  return lookupIdent({
    remoteAddress: remote.address,
    remotePort: remote.port,
    localAddress: local.address,
    localPort: local.port,
    timeoutMs,
    ...(identPort !== undefined ? { identPort } : {}),
  });
}

/**
 * Runs libwrap's check for one client: evaluates, and whenever the evaluation needs a host
 * name, a user or an aclexec status, gets it and evaluates again. Every lookup is asynchronous
 * and bounded in time, so the event loop never waits on DNS or a client's identd.
 */
export async function checkWrappers(
  tables: RuleTables,
  daemon: string,
  client: { address: string; port: number },
  local: LocalEnd,
  lookups: WrapLookups,
): Promise<WrapOutcome> {
  const request = wrapRequest(daemon, client, local);
  return finishWrappers(tables, request, client, local, lookups, evaluateNow(tables, request, lookups));
}

/**
 * What libwrap is asked about a client: IPv4-mapped addresses as IPv4. A client whose address
 * is never known (a wait = yes stream service) is `unknown`, as libwrap names it.
 */
export function wrapRequest(daemon: string, client: { address: string; port: number } | 'unknown', local: LocalEnd): WrapRequest {
  return {
    daemon,
    server: { address: wrapAddress(local.address), port: local.port },
    client: client === 'unknown' ? { address: 'unknown', port: null, hostname: 'unknown' } : { address: wrapAddress(client.address), port: client.port },
  };
}

/** Reads a `/path` client pattern file for hosts-match (a missing file matches nothing). */
export function readPatternFile(path: string): PatternFile {
  try {
    return { kind: 'text', text: readFileSync(path, 'latin1') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'error', message: `cannot open ${path}: ${errorText(err)}` };
  }
}

/** The synchronous first evaluation: a verdict, or what it needs. */
export function evaluateNow(
  tables: RuleTables,
  request: WrapRequest,
  lookups: Pick<WrapLookups, 'knownUser' | 'knownGroup'>,
  more: { resume?: ResumePoint; aclexecFailed?: boolean } = {},
): WrapAnswer {
  return evaluateAccess(tables.allow, tables.deny, request, {
    ...more,
    readPatternFile,
    ...(lookups.knownUser !== undefined ? { knownUser: lookups.knownUser } : {}),
    ...(lookups.knownGroup !== undefined ? { knownGroup: lookups.knownGroup } : {}),
  });
}

/** Whether an answer is a verdict (not a request for a lookup). */
export function isVerdict(a: WrapAnswer): a is WrapVerdict {
  return !('kind' in a);
}

/** Continues a check whose first evaluation (`first`) may need lookups or an aclexec run. */
export async function finishWrappers(
  tables: RuleTables,
  request: WrapRequest,
  client: { address: string; port: number },
  local: LocalEnd,
  lookups: WrapLookups,
  first: WrapAnswer,
): Promise<WrapOutcome> {
  let result = first;
  let more: { resume?: ResumePoint; aclexecFailed?: boolean } = {};
  /** Options already carried out by rules an aclexec failure made not count (libwrap ran them). */
  let carried: WrapOption[] = [];
  // Each round fills one need or runs one aclexec: bounded by the rules, plus the three needs.
  for (let round = 0; round < tables.allow.rules.length + tables.deny.rules.length + 4; round++) {
    if (!isVerdict(result)) {
      await fill(request, result.what, client, local, lookups);
    } else {
      const verdict: WrapVerdict = carried.length === 0 ? result : { ...result, options: [...carried, ...result.options] };
      const aclexec = [...result.options].reverse().find((o) => o.kind === 'aclexec');
      if (result.aclexec === undefined || aclexec === undefined) return { verdict, request };
      const command = expandOptionText(aclexec.command, { daemon: request.daemon, pid: process.pid, client: request.client, server: request.server });
      const status = await (lookups.aclexec ?? runAclexec)(command);
      if (status === 0) return { verdict, request };
      lookups.warn(`aclexec returned ${status}`);
      carried = [...carried, ...result.options.filter((o) => !['allow', 'deny', 'twist', 'aclexec'].includes(o.kind))];
      more = { resume: result.aclexec.resume, aclexecFailed: true };
    }
    result = evaluateNow(tables, request, lookups, more);
  }
  throw new Error('TCP wrappers evaluation did not settle');
}

async function fill(request: WrapRequest, what: Need, client: { address: string; port: number }, local: LocalEnd, lookups: WrapLookups): Promise<void> {
  if (what === 'client-hostname') {
    const r = await wrapHostname(client.address, lookups.resolver);
    if (r.warning !== null) lookups.warn(r.warning);
    request.client.hostname = r.name;
  } else if (what === 'server-hostname') {
    const r = await wrapHostname(local.address, lookups.resolver);
    request.server.hostname = r.name;
  } else {
    const ident = lookups.ident ?? defaultIdent;
    const r = await withTimeout(ident(client, local, WRAP_IDENT_TIMEOUT_MS), WRAP_IDENT_TIMEOUT_MS + 1000, () => new Error('timeout'), {
      unref: true,
    }).catch((): IdentResult => ({ kind: 'timeout' }));
    request.client.user = wrapUser(r);
  }
}

/** The user an IDENT answer names for libwrap (%u, user@host): "UNIX : alice" → "alice"; else `unknown`. */
export function wrapUser(r: IdentResult): string {
  if (r.kind !== 'ok') return 'unknown';
  const colon = r.text.lastIndexOf(':');
  const user = (colon >= 0 ? r.text.slice(colon + 1) : r.text).trim();
  return user === '' ? 'unknown' : user;
}

/** `/bin/sh -c COMMAND` with stdio on /dev/null; resolves with its exit status (-1: could not run). */
export function runShell(command: string, env: NodeJS.ProcessEnv, ids?: { uid?: number; gid?: number }): Promise<number> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawnChild('/bin/sh', ['-c', command], { stdio: 'ignore', env, ...(ids ?? {}) });
    } catch {
      resolve(-1);
      return;
    }
    child.once('error', () => resolve(-1));
    child.once('exit', (code, signal) => resolve(code ?? (signal !== null ? 128 : -1)));
  });
}

function runAclexec(command: string): Promise<number> {
  return runShell(command, process.env);
}
