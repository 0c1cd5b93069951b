// The attributes of the xinetd configuration language, one row each, as NetBSD inetd's
// key_handlers[] table: where each may appear, how many values it takes and which assignment
// operators it accepts (xinetd 2.3.15's attribute tables, parse.c, plus tsinetd's own extension
// `per_source_cps`), what a service takes of it from `defaults`, the function that applies its
// values, the one that writes it for --convert and the one that dumps it. This table is the only
// list of attributes: the loaders, the writer and the dump consult its rows, and a row says why
// when an attribute has no handler of a kind. The handlers are small functions kept by area:
// src/config/xinetd/attribute-apply.ts, src/config/xinetd/attribute-write.ts, src/config/xinetd/attribute-dump.ts.

import * as apply from './attribute-apply.js';
import type { Applier } from './attribute-apply.js';
import * as dump from './attribute-dump.js';
import type { DumpLine } from './attribute-dump.js';
import * as write from './attribute-write.js';
import type { Writer } from './attribute-write.js';
import { DEFAULT_CPS } from '../../service-defaults.js';
import { editDistance } from './attribute-words.js';
import type { Service } from '../../table.js';

/**
 * Value count: a number = exactly that many values; 'any' = zero or more values, `=` only;
 * 'list' = zero or more values, `=`, `+=` and `-=`, may repeat (a set that accumulates).
 */
export type Arity = number | 'any' | 'list';

/** Why an attribute has no handler of some kind (not written, not dumped...). */
export interface NotHandled {
  none: string;
}

/** A handler and the place of its output among the other attributes' (ascending). */
export interface Placed<H> {
  order: number;
  handler: H;
}

/** The defaults, as services and inetd.conf lines read them (build.ts XinetdDefaults). */
export interface DefaultsView {
  svc: Service;
  set: { has(key: string): boolean };
}

/** Copies the attribute's value from the defaults' Service `from` to `to`. */
export type Copy = (to: Service, from: Service) => void;

/** What a service takes of an attribute from `defaults`. */
export interface Inheritance {
  /** xinetd's fill_attribute: copied when a service entry starts, if the defaults read so far set it. */
  atStart?: Copy;
  /** xinetd's service_fill: from the final defaults, when the service did not set it (inetd.conf lines too). */
  atEnd?: Copy;
  /** An inetd.conf line sets it itself (then the defaults do not replace it), when this says so. */
  inetdOwn?: (s: Service) => boolean;
  /** What an inetd.conf service takes besides service_fill (`compat`: the file -inetd_compat reads). */
  inetd?: (s: Service, def: DefaultsView, compat: boolean) => void;
}

export interface AttributeSpec {
  /** The attribute as written in the configuration (lower case). */
  name: string;
  /** The attribute whose value it sets (`interface` sets `bind`). */
  key: string;
  /** Arity in a service entry; null = not allowed in services. */
  service: Arity | null;
  /** Arity in `defaults`; null = not allowed there. In defaults, `=` on a list adds (like `+=`). */
  defaults: Arity | null;
  /** `-=` is refused (xinetd: env). */
  noMinus?: boolean;
  /** A tsinetd extension (xinetd warns "bad service attribute" and ignores it). */
  extension?: boolean;
  /** Known to xinetd's documentation but not to xinetd 2.3.15 itself (it warns and ignores it). */
  undocumentedInXinetd?: boolean;
  /** parse.c: after a line of this attribute, a service that an error has disabled is dropped. */
  dropsFailedEntry?: boolean;
  /**
   * Reads the values of a line into the service or defaults being built (src/config/xinetd/attribute-apply.ts);
   * without one, a line is warned about as not supported, with the reason as what it is for.
   */
  apply: Applier | NotHandled;
  /** What a service takes of it from `defaults`. */
  inherit: Inheritance | NotHandled;
  /** Its line in a --convert block (src/config/xinetd/attribute-write.ts), in write order. */
  write: Placed<Writer> | NotHandled;
  /** Its lines in a --dump block (src/config/xinetd/attribute-dump.ts), in dump order; rows with one order share the lines. */
  dump: Placed<DumpLine> | NotHandled;
}

/** Whether a row has a handler of this kind (or says why not). */
export function handled<H>(h: H | NotHandled): h is H {
  return typeof h === 'function' || (typeof h === 'object' && h !== null && !('none' in h));
}

interface Handlers {
  apply: Applier | NotHandled;
  inherit?: Inheritance | NotHandled;
  write: [number, Writer] | NotHandled;
  dump: [number, DumpLine] | NotHandled;
}

/** Why an attribute that cannot be set in defaults takes nothing from them. */
export const NOT_IN_DEFAULTS = 'cannot be set in defaults';

const none = (why: string): NotHandled => ({ none: why });
const placed = <H>(h: [number, H] | NotHandled): Placed<H> | NotHandled => ('none' in h ? h : { order: h[0], handler: h[1] });

const A = (name: string, service: Arity | null, defaults: Arity | null, h: Handlers, extra: Partial<AttributeSpec> = {}): AttributeSpec => ({
  name,
  key: name,
  service,
  defaults,
  apply: h.apply,
  inherit: h.inherit ?? none(NOT_IN_DEFAULTS),
  write: placed(h.write),
  dump: placed(h.dump),
  ...extra,
});

// Copies from the defaults: a value as it is, or a copy of a list (an unset access list or
// passenv becomes an empty one, as xinetd's copy does).
const same =
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- F ties the read and the write to one field's type
  <F extends keyof Service>(f: F): Copy =>
    (to, from) => {
      to[f] = from[f];
    };
const listCopy =
  (f: 'only_from' | 'no_access' | 'passenv'): Copy =>
  (to, from) => {
    const v = from[f];
    to[f] = v === null ? [] : [...v];
  };
const flagsCopy =
  (f: 'log_on_success' | 'log_on_failure'): Copy =>
  (to, from) => {
    to[f] = [...from[f]];
  };
const always = (): boolean => true;

const INTERFACE = "sets 'bind': bind's row writes it, and services inherit it through that row";
const ID_LIST = 'a list of service ids in defaults (build.ts applyLists), no part of a service';
const MDNS = 'never applied: tsinetd does not support it, and xinetd 2.3.15 ignores it';
/** The rlimit_* attributes share one dump line. */
const RLIMITS = 300;

/**
 * The rows, in xinetd's order (parse.c; misspelling hints prefer the earlier row):
 * A(name, arity in a service, arity in defaults, { apply, inherit, write: [order, writer],
 * dump: [order, lines] }, extra). Write orders are the order of a --convert block's lines;
 * dump orders are the order xinetd 2.3.15.3 prints its dump lines in (measured), tsinetd's own
 * lines after them.
 */
export const ATTRIBUTES: readonly AttributeSpec[] = [
  A('id', 1, null, { apply: apply.id, write: [10, write.id], dump: [10, dump.id] }),
  A('type', 'any', null, { apply: apply.type, write: [20, write.type], dump: [30, dump.type] }),
  A('flags', 'any', null, { apply: apply.flags, write: [30, write.flags], dump: [20, dump.flags] }),
  A('disable', 1, null, { apply: apply.disable, write: [440, write.disable], dump: none("shown by the block's State line") }, { dropsFailedEntry: true }),
  A('socket_type', 1, null, { apply: apply.socketType, write: [40, write.socketType], dump: [40, dump.socketType] }),
  A('protocol', 1, null, { apply: apply.protocol, write: [50, write.protocol], dump: [50, dump.protocol] }),
  A('wait', 1, null, { apply: apply.wait, write: [70, write.wait], dump: [80, dump.wait] }),
  A('user', 1, null, { apply: apply.user, write: [80, write.user], dump: [90, dump.user] }),
  A('group', 1, null, { apply: apply.group, write: [90, write.group], dump: [100, dump.group] }),
  A('groups', 1, 1, { apply: apply.groups, inherit: { atEnd: same('groups'), inetdOwn: always }, write: [100, write.groups], dump: [110, dump.groups] }),
  A('instances', 1, 1, {
    apply: apply.instances,
    inherit: { atEnd: same('instances'), inetdOwn: (s) => s.instances !== null },
    write: [160, write.instances],
    dump: [70, dump.instances],
  }),
  A('nice', 1, null, { apply: apply.nice, write: [330, write.nice], dump: [130, dump.nice] }),
  A('server', 1, null, { apply: apply.server, write: [110, write.server], dump: [170, dump.server] }),
  A('server_args', 'any', null, { apply: apply.serverArgs, write: [120, write.serverArgs], dump: [180, dump.serverArgs] }),
  A('libwrap', 1, null, { apply: apply.libwrap, write: [410, write.libwrap], dump: [360, dump.libwrap] }),
  A('only_from', 'list', 'list', {
    apply: apply.onlyFrom,
    inherit: { atStart: listCopy('only_from') },
    write: [220, write.onlyFrom],
    dump: [210, dump.onlyFrom],
  }),
  A('no_access', 'list', 'list', {
    apply: apply.noAccess,
    inherit: { atStart: listCopy('no_access') },
    write: [230, write.noAccess],
    dump: [220, dump.noAccess],
  }),
  A('access_times', 'any', null, { apply: apply.accessTimes, write: [240, write.accessTimes], dump: [200, dump.accessTimes] }),
  A('log_type', 'any', 'list', {
    apply: apply.logType,
    inherit: { atEnd: (to, from) => (to.log_type = from.log_type === null ? null : { ...from.log_type }) },
    write: [250, write.logType],
    dump: [240, dump.logType],
  }),
  A('log_on_success', 'list', 'list', {
    apply: apply.logOnSuccess,
    inherit: { atStart: flagsCopy('log_on_success'), atEnd: flagsCopy('log_on_success') },
    write: [260, write.logOnSuccess],
    dump: [250, dump.logOnSuccess],
  }),
  A('log_on_failure', 'list', 'list', {
    apply: apply.logOnFailure,
    inherit: { atStart: flagsCopy('log_on_failure'), atEnd: flagsCopy('log_on_failure') },
    write: [270, write.logOnFailure],
    dump: [260, dump.logOnFailure],
  }),
  A('rpc_version', 1, null, { apply: apply.rpcVersion, write: [420, write.rpcVersion], dump: [380, dump.rpcVersion] }),
  A('rpc_number', 1, null, { apply: apply.rpcNumber, write: [430, write.rpcNumber], dump: [370, dump.rpcNumber] }),
  A('env', 'list', null, { apply: apply.env, write: [280, write.env], dump: [280, dump.env] }, { noMinus: true }),
  A('passenv', 'list', 'list', {
    apply: apply.passenv,
    // setup_environ: an inetd.conf line, which never starts an entry, passes what the defaults pass.
    inherit: {
      atStart: listCopy('passenv'),
      inetd: (s, def) => {
        if (s.passenv === null && def.set.has('passenv')) listCopy('passenv')(s, def.svc);
      },
    },
    write: [290, write.passenv],
    dump: [270, dump.passenv],
  }),
  A('port', 1, null, { apply: apply.port, write: [60, write.port], dump: [60, dump.port] }),
  A('redirect', 2, null, { apply: apply.redirect, write: [130, write.redirect], dump: [190, dump.redirect] }),
  A('bind', 1, 1, { apply: apply.bind, inherit: { atEnd: same('bind'), inetdOwn: (s) => s.bind !== null }, write: [140, write.bind], dump: [160, dump.bind] }),
  A('interface', 1, 1, { apply: apply.bind, inherit: none(INTERFACE), write: none(INTERFACE), dump: [160, dump.bind] }, { key: 'bind' }),
  A('banner', 1, 1, { apply: apply.banner, inherit: { atStart: same('banner') }, write: [300, write.banner], dump: [310, dump.banner] }),
  A('banner_success', 1, 1, {
    apply: apply.bannerSuccess,
    inherit: { atStart: same('banner_success') },
    write: [310, write.bannerSuccess],
    dump: [320, dump.bannerSuccess],
  }),
  A('banner_fail', 1, 1, { apply: apply.bannerFail, inherit: { atStart: same('banner_fail') }, write: [320, write.bannerFail], dump: [330, dump.bannerFail] }),
  A('per_source', 1, 1, {
    apply: apply.perSource,
    inherit: { atEnd: same('per_source'), inetdOwn: (s) => s.per_source !== null },
    write: [170, write.perSource],
    dump: [150, dump.perSource],
  }),
  A('cps', 2, 2, {
    apply: apply.cps,
    inherit: {
      atEnd: (to, from) => (to.cps = [from.cps[0], from.cps[1]]),
      // -inetd_compat's file gets xinetd's implicit limit unless defaults set one.
      inetd: (s, def, compat) => {
        if (compat && !def.set.has('cps')) s.cps = [DEFAULT_CPS[0], DEFAULT_CPS[1]];
      },
    },
    write: [180, write.cps],
    dump: [140, dump.cps],
  }),
  A('max_load', 1, 1, { apply: apply.maxLoad, inherit: { atEnd: same('max_load') }, write: [200, write.maxLoad], dump: [290, dump.maxLoad] }),
  A('umask', 1, 1, { apply: apply.umask, inherit: { atEnd: same('umask') }, write: [340, write.umask], dump: [120, dump.umask] }),
  A('v6only', 1, 1, { apply: apply.v6only, inherit: { atEnd: same('v6only'), inetdOwn: always }, write: [150, write.v6only], dump: [350, dump.v6only] }),
  A('deny_time', 1, null, { apply: apply.denyTime, write: [210, write.denyTime], dump: [230, dump.denyTime] }),
  A('rlimit_as', 1, null, { apply: apply.rlimit, write: [350, write.rlimit], dump: [RLIMITS, dump.rlimits] }),
  A('rlimit_cpu', 1, null, { apply: apply.rlimit, write: [360, write.rlimit], dump: [RLIMITS, dump.rlimits] }),
  A('rlimit_data', 1, null, { apply: apply.rlimit, write: [370, write.rlimit], dump: [RLIMITS, dump.rlimits] }),
  A('rlimit_files', 1, null, { apply: apply.rlimit, write: [400, write.rlimit], dump: [RLIMITS, dump.rlimits] }),
  A('rlimit_rss', 1, null, { apply: apply.rlimit, write: [380, write.rlimit], dump: [RLIMITS, dump.rlimits] }),
  A('rlimit_stack', 1, null, { apply: apply.rlimit, write: [390, write.rlimit], dump: [RLIMITS, dump.rlimits] }),
  A('enabled', null, 'list', { apply: apply.enabled, inherit: none(ID_LIST), write: none(ID_LIST), dump: none(ID_LIST) }),
  A('disabled', null, 'list', { apply: apply.disabled, inherit: none(ID_LIST), write: none(ID_LIST), dump: none(ID_LIST) }),
  A('mdns', 1, null, { apply: none('service registration over multicast DNS'), write: none(MDNS), dump: none(MDNS) }, { undocumentedInXinetd: true }),
  A(
    'per_source_cps',
    2,
    2,
    {
      apply: apply.perSourceCps,
      inherit: { atEnd: (to, from) => (to.per_source_cps = from.per_source_cps === null ? null : [from.per_source_cps[0], from.per_source_cps[1]]) },
      write: [190, write.perSourceCps],
      dump: [340, dump.perSourceCps],
    },
    { extension: true },
  ),
];

const BY_NAME = new Map(ATTRIBUTES.map((a) => [a.name, a]));

/** The attribute spelled `name` (compared without regard to case, as xinetd does). */
export function attributeSpec(name: string): AttributeSpec | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** The known attribute names closest to a misspelt one (edit distance <= 2), best first. */
export function suggestAttribute(name: string): string | undefined {
  const lower = name.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const a of ATTRIBUTES) {
    const d = editDistance(lower, a.name);
    if (d <= 2 && (best === undefined || d < best.d)) best = { name: a.name, d };
  }
  return best?.name;
}
