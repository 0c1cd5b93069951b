// Where each service listens, decided from its attributes alone (pure): one plan per socket (two
// for a service with one socket per address family, `family_sockets`), each socket's identity
// (socketKey: the one definition of "which listening socket is this", used by the reload plan,
// the listener set and validation), whether the spawn helper accepts for it, and what the way
// it is served cannot honour (for --check).
//
// Where (xinetd's rules): no `bind` = the IPv6 wildcard [::], dual-stack unless `v6only = yes`,
// so IPv4 peers appear as ::ffff:a.b.c.d; `flags = IPv4` = 0.0.0.0; an IPv4 `bind` address =
// a plain IPv4 socket; an IPv6 one = an IPv6 socket; a host name is resolved when the socket
// is opened. SO_REUSEADDR is always set (libuv does for TCP, and we ask for it on UDP).
// A unix-domain service (inetd.conf protocol `unix`) listens at its path instead: a stream socket
// accepted by the daemon, never by the helper; a datagram socket, which Node cannot open, is
// held by the spawn helper and served only when the helper runs (unservedHere()).

import { isIP } from 'node:net';
import { addressChecks, useridOnFailure, useridOnSuccess } from '../service-needs.js';
import { builtinOf } from './builtins.js';
import type { Service, UnixSocket } from '../table.js';
import { versus } from '../app/versus.js';
import { muxClient, serviceKind } from '../service-kind.js';

/** Why a TCPMUX service has no socket: not a problem, it is served through `tcpmux`. */
const MUX_CLIENT = 'a TCPMUX service has no socket of its own: the tcpmux service hands it its connections';

export type ListenMode = 'stream' | 'dgram' | 'stream-wait' | 'dgram-wait';

export interface ListenPlan {
  mode: ListenMode;
  transport: 'tcp' | 'udp' | 'unix';
  /** 0 for a unix-domain socket. */
  port: number;
  /** An address literal, or a host name resolved when the socket is opened. */
  host: string;
  /** 4 or 6 for address literals; for host names the family asked of the resolver (0 = any). */
  family: 0 | 4 | 6;
  v6only: boolean;
  /**
   * RPC services: `PROGRAM of ID`. Their port is 0, an ephemeral one chosen at bind and
   * registered with rpcbind (rpc-plan.ts), so the service and its program name the socket
   * instead, as xinetd's reload matches an RPC service (same id, same program: sconf.c
   * SAME_RPC). The versions are not part of it: a reload that changes `rpc_version` keeps the
   * socket and its port, and only the registrations change (xinetd's readjust_rpc_service).
   */
  rpc?: string;
  /** The socket file of a unix-domain socket (host '', family 0, port 0); absent for the others. */
  unix?: UnixSocket;
}

export type PlanResult = { ok: true; plan: ListenPlan } | { ok: false; reason: string };
export type PlansResult = { ok: true; plans: [ListenPlan, ...ListenPlan[]] } | { ok: false; reason: string };

/**
 * Where and how `service` listens (its first socket: the IPv4 one of a service with one
 * socket per family), or why it cannot.
 */
export function listenPlan(service: Service): PlanResult {
  const r = listenPlans(service);
  return r.ok ? { ok: true, plan: r.plans[0] } : r;
}

/**
 * Every socket of `service`: one, or two for `family_sockets` (an IPv4 socket, then a v6only
 * IPv6 one, on the wildcards or on the addresses of the `bind` host name).
 */
export function listenPlans(service: Service): PlansResult {
  const no = (reason: string): PlansResult => ({ ok: false, reason });
  const rpc = service.type.includes('RPC');
  if (rpc && (service.rpc_number === null || service.rpc_version === null)) return no('RPC service without a program number or version');
  if (muxClient(service) !== null) return no(MUX_CLIENT);
  if (service.socket_type !== 'stream' && service.socket_type !== 'dgram') {
    return no(`socket_type ${service.socket_type} is not supported`);
  }
  if (service.protocol === 'unix') return unixPlans(service);
  const transport = service.socket_type === 'stream' ? 'tcp' : 'udp';
  if (service.protocol !== transport) return no(`protocol ${service.protocol} is not supported with socket_type ${service.socket_type}`);
  if (service.port === null && !rpc) return no('no port');

  const kind = serviceKind(service);
  let mode: ListenMode;
  if (kind === 'internal' || kind === 'sensor') {
    if (builtinOf(service) === null) {
      return no(`No such internal service: ${service.name}/${service.socket_type}`);
    }
    mode = transport === 'tcp' ? 'stream' : 'dgram';
  } else if (kind === 'redirect') {
    if (transport !== 'tcp') return no('redirect works for tcp services only');
    mode = 'stream';
  } else if (service.server === null) {
    return no('no server program');
  } else {
    mode = transport === 'udp' ? 'dgram-wait' : service.wait ? 'stream-wait' : 'stream';
  }

  const port = rpc ? 0 : (service.port ?? 0);
  const rpcName = rpc && service.rpc_number !== null && service.rpc_version !== null ? `${service.rpc_number} of ${service.id}` : undefined;
  // Every plan is built by this one literal, its fields always in the same order, so that all
  // share one hidden class: object spreads gave each plan a shape of its own (~270 bytes each).
  const plan = (host: string, family: 0 | 4 | 6, v6only: boolean): ListenPlan => {
    const p: ListenPlan = { mode, transport, port, host, family, v6only };
    if (rpcName !== undefined) p.rpc = rpcName;
    return p;
  };
  if (service.family_sockets && (service.bind === null || isIP(service.bind) === 0)) {
    return { ok: true, plans: [plan(service.bind ?? '0.0.0.0', 4, false), plan(service.bind ?? '::', 6, true)] };
  }
  const v6only = service.v6only === true;
  let host: string;
  let family: 0 | 4 | 6;
  if (service.bind !== null) {
    host = service.bind;
    const literal = isIP(host);
    if (literal === 4 || literal === 6) family = literal;
    else family = service.flags.includes('IPv4') ? 4 : service.flags.includes('IPv6') ? 6 : 0;
  } else if (service.flags.includes('IPv4')) {
    host = '0.0.0.0';
    family = 4;
  } else {
    host = '::';
    family = 6;
  }
  return { ok: true, plans: [plan(host, family, v6only)] };
}

/**
 * The socket of a unix-domain service. Stream: nowait programs and internal services are
 * accepted by the daemon. Datagram: a program, one at a time (wait = yes), on a socket the
 * spawn helper holds.
 */
function unixPlans(service: Service): PlansResult {
  const no = (reason: string): PlansResult => ({ ok: false, reason });
  if (service.unix === null) return no('no socket path');
  const kind = serviceKind(service);
  let mode: ListenMode;
  if (service.socket_type === 'dgram') {
    if (kind === 'internal' || kind === 'sensor') return no('internal services are not served on a unix-domain datagram socket');
    if (kind === 'redirect') return no('redirect works for tcp services only');
    if (service.server === null) return no('no server program');
    mode = 'dgram-wait';
  } else if (kind === 'internal' || kind === 'sensor') {
    const builtin = builtinOf(service);
    if (builtin === null) return no(`No such internal service: ${service.name}/${service.socket_type}`);
    if (builtin === 'tcpmux') return no('the internal tcpmux service is not served on a unix-domain socket');
    mode = 'stream';
  } else if (kind === 'redirect') {
    return no('redirect works for tcp services only');
  } else if (service.server === null) {
    return no('no server program');
  } else {
    mode = service.wait ? 'stream-wait' : 'stream';
  }
  return { ok: true, plans: [{ mode, transport: 'unix', port: 0, host: '', family: 0, v6only: false, unix: service.unix }] };
}

/** Why a unix-domain datagram socket is not served by a run without the spawn helper. */
export const UNIX_DGRAM_NEEDS_HELPER =
  'unix-domain datagram sockets are served only by the native spawn helper (Node.js cannot open them), and this run starts servers with the Node spawner';

/**
 * Why this run cannot open `plan`'s socket, or null when it can: a unix-domain datagram socket
 * exists only in the spawn helper (`helperSockets`: the spawner in use has one; spawn-types.ts
 * HelperSockets). The one definition for --check (servingLimitations) and the listener set.
 */
export function unservedHere(plan: ListenPlan, helperSockets: boolean): string | null {
  return plan.transport === 'unix' && plan.mode === 'dgram-wait' && !helperSockets ? UNIX_DGRAM_NEEDS_HELPER : null;
}

/** The identities of all of `service`'s sockets (services that cannot listen: the reason). */
export function socketsKey(service: Service): string {
  const r = listenPlans(service);
  return r.ok ? r.plans.map(socketKey).join(' + ') : `none: ${r.reason}`;
}

/** Whether the daemon's own accepting for `service` must be able to pause (pausable-accept.ts). */
export function needsPausable(service: Service, plan: ListenPlan, helperAccepts: boolean): boolean {
  return plan.mode === 'stream' && !helperAccepts && service.instances_at_limit === 'queue';
}

/**
 * Which listening socket this is: two plans with the same key are the same socket, kept across a
 * reload (the reload plan, reload.ts, and the listener set, ListenerSet.apply, both decide by
 * it). Who accepts on it (the daemon or the helper, pausing or not) is not part of it: that can
 * change on a kept socket (Listener.reassign).
 */
export function socketKey(plan: ListenPlan): string {
  if (plan.unix !== undefined) {
    // The file's owner, group and mode are part of it: a change makes a new socket file.
    const u = plan.unix;
    return `${plan.mode} unix ${u.path} ${u.owner ?? '-'}:${u.group ?? '-'}:${u.mode.toString(8).padStart(4, '0')}`;
  }
  const rpc = plan.rpc !== undefined ? ` rpc ${plan.rpc}` : '';
  // Joined, not a template: the key is kept by every listener, and a template makes a tree of
  // string pieces (~200 bytes) where one flat string takes ~50.
  return [plan.mode, ' ', plan.transport, ' [', plan.host, ']:', plan.port, plan.family === 6 && plan.v6only ? ' v6only' : '', '/', plan.family, rpc].join('');
}

/**
 * Whether the spawner's helper may accept `service`'s connections (when it can: see Acceptor in
 * spawn-types.ts), because the daemon needs nothing of them but the peer's address: a nowait
 * program, or daytime/time (a reply the daemon computes), without banners (written to the
 * socket) and USERID lookups (which watch it). Never tcpmux: the daemon reads the name line.
 */
export function helperAccepts(service: Service): boolean {
  const r = listenPlan(service);
  if (!r.ok || r.plan.mode !== 'stream' || r.plan.transport === 'unix' || serviceKind(service) === 'redirect') return false;
  if (service.banner !== null || service.banner_success !== null || service.banner_fail !== null) return false;
  if (useridOnSuccess(service) || useridOnFailure(service) || service.flags.includes('IDONLY')) return false;
  const builtin = builtinOf(service);
  if (builtin !== null) return builtin === 'daytime' || builtin === 'time';
  return service.server !== null;
}

/**
 * What `service` asks for that the way it would be served cannot honour (for --check), beyond
 * the reasons listenPlan() refuses it. `helperSockets`: the spawner in use can hold unix-domain
 * datagram sockets (see unservedHere()).
 */
export function servingLimitations(service: Service, helperSockets = true): string[] {
  if (muxClient(service) !== null) return [];
  const r = listenPlan(service);
  if (!r.ok) return [r.reason + versus('starts less')];
  const unserved = unservedHere(r.plan, helperSockets);
  if (unserved !== null) return [unserved + versus('starts less')];
  const out: string[] = [];
  if (r.plan.transport === 'unix') {
    // A unix-domain client has no address: admission sees it as wait = yes clients (admission.ts unknownAddress).
    if (service.only_from !== null) {
      out.push('only_from refuses every client of a unix-domain socket: a unix peer has no address' + versus('admits less'));
    }
    const checks = addressChecks(service).filter((c) => c !== 'only_from');
    if (checks.length > 0) {
      out.push(
        `${checks.join(', ')} cannot be checked on a unix-domain socket: a unix peer has no address, so they let every client in, as the inetds do` +
          versus('same', 'inetd'),
      );
    }
  }
  if (r.plan.mode === 'dgram-wait' && !service.wait) {
    out.push('wait = no on a datagram service is served as wait = yes (one server at a time)' + versus('fewer at a time'));
  }
  if (r.plan.mode === 'stream-wait') {
    // Its server accepts the connections itself: the client address is never known (admission.ts unknownAddress).
    if (service.only_from !== null) {
      out.push(
        'only_from refuses every client of a wait = yes stream service: its server accepts the connections itself, so ' +
          'the client address is never known (xinetd does the same, forking in a loop; tsinetd tries again every second)' +
          versus('same'),
      );
    }
    const checks = addressChecks(service).filter((c) => c !== 'only_from');
    if (checks.length > 0) {
      out.push(
        `${checks.join(', ')} cannot be checked for a wait = yes stream service: the client address is never known, ` +
          'so they let every client in (as in xinetd)' +
          versus('same'),
      );
    }
  }
  if (r.plan.mode === 'stream' && service.wait && builtinOf(service) !== null) {
    out.push('wait = yes on an internal stream service is served as wait = no' + versus('more at a time'));
  }
  if (r.plan.mode !== 'stream' && service.instances_at_limit === 'queue' && service.instances !== null && service.instances > 1) {
    out.push(
      `max-child ${service.instances} on a service whose socket goes to its server: one server runs at a time (FreeBSD would start up to ${service.instances})` +
        versus('fewer at a time', 'FreeBSD inetd'),
    );
  }
  return out;
}
