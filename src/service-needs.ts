// What serving a service needs of each connection, read from its settings alone (pure): which
// admission checks need the client's address, whether an IDENT (USERID) lookup runs, and the
// service as activation leaves it (an RPC service over TCP is not wrapped until a reload keeps it). The
// listen plans (who may accept: listen-plan.ts), admission, serving and --check ask here.

import type { Service } from './table.js';

/** The attributes of `service` whose check needs the client's address. */
export function addressChecks(service: Service): string[] {
  const out: string[] = [];
  if (service.only_from !== null) out.push('only_from');
  if (service.no_access !== null) out.push('no_access');
  if (service.per_source !== null) out.push('per_source');
  if (service.per_source_per_minute !== null) out.push('per_source_per_minute');
  if (service.per_source_cps !== null) out.push('per_source_cps');
  return out;
}

function has(list: readonly string[], flag: string): boolean {
  return list.some((f) => f.toUpperCase() === flag);
}

/** log_on_success USERID: the client's identd is asked once its server starts. */
export function useridOnSuccess(s: Service): boolean {
  return has(s.log_on_success, 'USERID');
}

/** log_on_failure USERID: a refused client's identd is asked. */
export function useridOnFailure(s: Service): boolean {
  return has(s.log_on_failure, 'USERID');
}

/** flags = IDONLY: only identified clients get a server. */
export function requiresIdentification(s: Service): boolean {
  return s.flags.includes('IDONLY');
}

/** An RPC service over TCP: not wrapped once activated (see activated()). */
export function rpcOverTcp(service: Pick<Service, 'type' | 'protocol'>): boolean {
  return service.type.includes('RPC') && service.protocol === 'tcp';
}

/**
 * `service` as xinetd's activation leaves it: activate_rpc (service.c) sets NOLIBWRAP on an
 * RPC service over TCP when it opens its socket, at start and for a service a reload adds or
 * opens again. A reload that keeps a service (readjust) puts the new definition in place
 * without activating it, so that service is wrapped from then on (measured with 2.3.15.3:
 * after a SIGHUP, hosts.deny refuses the clients of a kept RPC service over TCP). The daemon
 * activates the services it opens a socket for; --explain judges a service as at start.
 */
export function activated<S extends Pick<Service, 'flags' | 'type' | 'protocol'>>(service: S): S {
  return rpcOverTcp(service) && !service.flags.includes('NOLIBWRAP') ? { ...service, flags: [...service.flags, 'NOLIBWRAP'] } : service;
}
