// Syntax tree → Services, with xinetd's semantics (parse.c, parsers.c, confparse.c of 2.3.15):
//
// - attributes are applied in order; a scalar keeps its first value ("attribute already set"),
//   `+=`/`-=` work only on lists, a wrong number of values makes the line ignored (a warning), a
//   value that cannot be parsed disables the service (an error);
// - `defaults`: one per file; there `=` on a list adds to it. When a service starts, it copies
//   what the defaults hold at that point of the attributes whose row says `atStart` (the access
//   lists, log_on_*, passenv, banners); after the whole tree is read, what it did not set of the
//   attributes whose row says `atEnd` (the limits, bind, v6only, logging) comes from the final
//   defaults (src/config/xinetd/attributes.ts);
// - `disable = yes` ends the entry; `enabled` / `disabled` lists in defaults turn services off;
// - protocol follows from socket_type and back (stream/tcp, dgram/udp); the port comes from
//   `port` or from /etc/services; argv[0] is the basename of `server`, or with NAMEINARGS the
//   first word of server_args (in whatever order flags and server_args appear).
//
// Applying one attribute line is in src/config/xinetd/build-attributes.ts. Checks that need the whole
// service (required attributes, port mismatch, the server program, users...) are in
// src/config/validate.ts.

import { basename } from 'node:path';
import { diag, type Diagnostic } from '../../diagnostics.js';
import { newService, compactService } from '../../service-defaults.js';
import type { SysDb } from '../../sys/sysdb.js';
import type { AttributeNode, DefaultsNode, Loc, ServiceNode, Word } from './syntax.js';
import type { Service } from '../../table.js';
import { serviceKind } from '../../service-kind.js';
import { present } from '../../util/invariant.js';
import { at, len, newDraft, type Draft } from './attribute-apply.js';
import { ATTRIBUTES, attributeSpec, handled, type Copy, type DefaultsView } from './attributes.js';
import { applyAttribute, type Report } from './build-attributes.js';

/** Why the configuration itself turns a service off. */
export type OffReason =
  | { kind: 'disable'; at: Loc } // disable = yes
  | { kind: 'disabled-list'; at: Loc } // listed in defaults' `disabled`
  | { kind: 'not-enabled'; at: Loc } // defaults' `enabled` is set and does not list it
  | { kind: 'syntax' } // the entry is broken; xinetd drops it
  | { kind: 'error' }; // an error that makes xinetd drop it

export interface BuiltService {
  service: Service;
  node: ServiceNode;
  /** Attributes set by the entry itself (key → the line), not the ones inherited from defaults. */
  set: Map<string, AttributeNode>;
  /** Set when the configuration turns the service off; checks are skipped then. */
  off: OffReason | null;
  /** The port /etc/services lists for name/protocol, when it lists one. */
  listedPort: number | null;
  /** Whether the protocol was given or follows from socket_type (and socket_type likewise). */
  hasProtocol: boolean;
  /**
   * The protocol name as written ('TCP' for `protocol = TCP`), or the one socket_type implies:
   * xinetd looks /etc/services up with it (getservbyname, which compares names exactly).
   */
  protocolName: string;
  hasSocketType: boolean;
}

export interface BuildResult {
  services: BuiltService[];
  diagnostics: Diagnostic[];
  /** The final defaults (what inetd.conf services read with them take: inetd-defaults.ts). */
  defaults: XinetdDefaults;
}

export interface BuildEntry {
  node: ServiceNode | DefaultsNode;
  /** Which reading of a file the entry comes from (one `defaults` per reading). */
  unit: number;
}

/** Builds the services of a configuration tree. Pure apart from the system database lookups. */
export function buildServices(entries: readonly BuildEntry[], db: SysDb): BuildResult {
  const diagnostics: Diagnostic[] = [];
  const report: Report = (d) => diagnostics.push(d);
  const defaults = newDraft(newService('defaults', 'xinetd', { file: '', line: 0 }), true);
  const unitsWithDefaults = new Map<number, DefaultsNode>();
  const drafts: { draft: Draft; node: ServiceNode; broken: boolean }[] = [];

  for (const { node, unit } of entries) {
    if (node.kind === 'defaults') {
      const first = unitsWithDefaults.get(unit);
      if (first !== undefined) {
        report(
          diag(
            'duplicate-defaults',
            'error',
            at(node.keyword),
            `only one 'defaults' entry is allowed per file (the first is on line ${first.loc.line}): this one is ignored, as xinetd does`,
            len(node.keyword),
          ),
        );
        continue;
      }
      for (const a of node.attributes) applyAttribute(defaults, a, db, report);
      // xinetd counts a defaults entry only when it parsed to its closing '}'.
      if (node.end.kind === 'close') unitsWithDefaults.set(unit, node);
      continue;
    }
    const svc = newService(node.name.text, 'xinetd', { file: node.keyword.loc.file, line: node.keyword.loc.line });
    const draft = newDraft(svc, false);
    inheritLists(draft, defaults);
    // A broken entry is dropped by xinetd, which still reports the attributes before the break.
    const broken = node.end.kind !== 'close';
    for (const a of node.attributes) {
      applyAttribute(draft, a, db, report);
      if (draft.disable !== null) break;
      // parse.c: after any `disable` line, a service that is disabled at that point is dropped.
      if (draft.failed !== null && attributeSpec(a.name.text)?.dropsFailedEntry === true) {
        draft.dropped = true;
        break;
      }
    }
    drafts.push({ draft, node, broken });
  }

  const strings = new Map<string, string>();
  const services = drafts.map(({ draft, node, broken }) => finish(draft, node, broken, defaults, db, report, strings));
  if (defaults.failed !== null) startNone(services);
  applyLists(services, defaults, report);
  return { services, diagnostics, defaults: { svc: defaults.svc, set: defaults.set } };
}

// ---- Inheritance -------------------------------------------------------------------------------

/** The rows' copies of one kind, with the key each copies (interface inherits through bind's row). */
function copies(kind: 'atStart' | 'atEnd'): { key: string; copy: Copy }[] {
  return ATTRIBUTES.flatMap((r) => {
    const copy = handled(r.inherit) ? r.inherit[kind] : undefined;
    return copy === undefined ? [] : [{ key: r.key, copy }];
  });
}

const AT_START = copies('atStart');
const AT_END = copies('atEnd');

/** What a service copies from the defaults when its entry starts (xinetd's fill_attribute). */
function inheritLists(d: Draft, def: Draft): void {
  for (const { key, copy } of AT_START) if (def.set.has(key)) copy(d.svc, def.svc);
}

/** The final `defaults` of a configuration: its values, and which attributes it set. */
export type XinetdDefaults = DefaultsView;

/** What a service takes from the final defaults when it did not set it (xinetd's service_fill). */
function inheritScalars(d: Draft, def: Draft): void {
  fillFromDefaults(d.svc, d.set, def);
}

/**
 * xinetd's service_fill: the attributes a service did not set itself (`own`) that it takes
 * from the final defaults. xinetd runs it for every service, those of /etc/inetd.conf
 * (-inetd_compat) included (see inetd-defaults.ts).
 */
export function fillFromDefaults(s: Service, own: { has(key: string): boolean }, def: XinetdDefaults): void {
  for (const { key, copy } of AT_END) if (!own.has(key) && def.set.has(key)) copy(s, def.svc);
}

// ---- Completing a service ------------------------------------------------------------------------

function finish(d: Draft, node: ServiceNode, broken: boolean, def: Draft, db: SysDb, report: Report, strings: Map<string, string>): BuiltService {
  const s = d.svc;
  let off: OffReason | null = null;
  if (broken) off = { kind: 'syntax' };
  else if (d.disable !== null) off = { kind: 'disable', at: d.disable.loc };
  else if (d.failed !== null || d.dropped) off = { kind: 'error' };

  inheritScalars(d, def);

  // Protocol and socket type imply each other (stream/tcp, dgram/udp).
  let hasProtocol = d.set.has('protocol');
  let hasSocketType = d.set.has('socket_type');
  if (!hasProtocol && hasSocketType && (s.socket_type === 'stream' || s.socket_type === 'dgram')) {
    s.protocol = s.socket_type === 'stream' ? 'tcp' : 'udp';
    hasProtocol = true;
  } else if (hasProtocol && !hasSocketType && (s.protocol === 'tcp' || s.protocol === 'udp')) {
    s.socket_type = s.protocol === 'tcp' ? 'stream' : 'dgram';
    hasSocketType = true;
  }

  const kind = serviceKind(s);
  const quiet = off !== null;
  if (kind === 'redirect') {
    const a = d.set.get('server');
    if (a !== undefined && !quiet) {
      const redirect = present(d.set.get('redirect'), "the 'redirect' attribute of a redirect service");
      report(
        diag('server-unused', 'warning', at(a.name), `'server' is not used: 'redirect' (line ${redirect.loc.line}) takes priority, as in xinetd`, len(a.name)),
      );
    }
    s.server = null;
    s.server_argv = [];
  } else if (kind === 'internal' || kind === 'sensor') {
    const a = d.set.get('server');
    if (a !== undefined && !quiet) {
      report(
        diag(
          'server-unused',
          'warning',
          at(a.name),
          `'server' is not used by an internal service (xinetd does not run it either, but disables the service when it is not executable)`,
          len(a.name),
        ),
      );
    }
    s.server = null;
    s.server_argv = [];
  } else if (s.server !== null) {
    s.server_argv = s.flags.includes('NAMEINARGS') ? [...(d.serverArgs ?? [])] : [basename(s.server), ...(d.serverArgs ?? [])];
  }

  // The port: given, or the one /etc/services lists for the name and protocol.
  const rpc = s.type.includes('RPC');
  const mux = s.type.includes('TCPMUX') || s.type.includes('TCPMUXPLUS');
  const protocolName = d.set.get('protocol')?.values[0]?.text ?? s.protocol;
  const listed = !rpc && hasProtocol ? db.serviceByName(s.name, protocolName) : undefined;
  const listedPort = listed === undefined ? null : listed.port;
  if (!d.set.has('port')) s.port = rpc || mux || s.type.includes('UNLISTED') ? null : listedPort;
  // An RPC service's program number is /etc/rpc's for its name, even when rpc_number is set (xinetd's confparse.c).
  if (rpc && !s.type.includes('UNLISTED')) s.rpc_number = db.rpcByName(s.name)?.number ?? null;

  s.enabled = off === null;
  compactService(s, strings);
  return { service: s, node, set: d.set, off, listedPort, hasProtocol, hasSocketType, protocolName };
}

/** Turns every service off: xinetd would start none of them (it exits, or crashes, on reading them). */
export function startNone(services: readonly BuiltService[]): void {
  for (const b of services) {
    b.off ??= { kind: 'error' };
    b.service.enabled = false;
  }
}

/** defaults' `enabled` and `disabled` lists (ids compared without regard to case, as xinetd does). */
function applyLists(services: BuiltService[], def: Draft, report: Report): void {
  const known = new Set(services.map((b) => b.service.id.toLowerCase()));
  const enabledAt = def.set.get('enabled');
  if (def.enabledList !== null && enabledAt !== undefined) {
    const ids = new Map(def.enabledList.map((w) => [w.text.toLowerCase(), w]));
    for (const b of services) {
      if (b.off === null && !ids.has(b.service.id.toLowerCase())) {
        b.off = { kind: 'not-enabled', at: enabledAt.loc };
        b.service.enabled = false;
      }
    }
    for (const [id, w] of ids) if (!known.has(id)) report(unknownIdWarning('enabled', w));
  }
  const disabledAt = def.set.get('disabled');
  if (def.disabledList !== null && disabledAt !== undefined) {
    const ids = new Map(def.disabledList.map((w) => [w.text.toLowerCase(), w]));
    for (const b of services) {
      if (b.off === null && ids.has(b.service.id.toLowerCase())) {
        b.off = { kind: 'disabled-list', at: disabledAt.loc };
        b.service.enabled = false;
      }
    }
    for (const [id, w] of ids) if (!known.has(id)) report(unknownIdWarning('disabled', w));
  }
}

function unknownIdWarning(list: string, w: Word): Diagnostic {
  return diag('unknown-id', 'warning', at(w), `'${list}' names '${w.text}', but no service has that id (ids, not service names, go in this list)`, len(w));
}
