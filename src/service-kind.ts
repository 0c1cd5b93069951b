// What serves a service's clients: the one definition every module asks (listening, admission,
// counting, TCP wrappers, privileges, --check, --convert), as xinetd 2.3.15.3 decides it:
// - SENSOR makes a service internal (confparse.c sets ST_INTERNAL for it) and its builtin is
//   the sensor trap;
// - an internal service is served by its builtin even when it also names a redirect or a
//   server (child.c tests SC_IS_INTERNAL first; measured: `type = INTERNAL UNLISTED` daytime
//   with a `redirect` answers the daytime itself);
// - then a redirect (the server is not run: build.ts says so);
// - else the server program (validate.ts requires one).

import type { Service } from './table.js';

export type ServiceKind = 'sensor' | 'internal' | 'redirect' | 'program';

export function serviceKind(service: Pick<Service, 'type' | 'flags' | 'redirect'>): ServiceKind {
  if (service.flags.includes('SENSOR')) return 'sensor';
  if (service.type.includes('INTERNAL')) return 'internal';
  if (service.redirect !== null) return 'redirect';
  return 'program';
}

/** Served inside tsinetd (a builtin or the sensor trap): no program of the service's runs. */
export function servedInternally(service: Pick<Service, 'type' | 'flags' | 'redirect'>): boolean {
  const kind = serviceKind(service);
  return kind === 'internal' || kind === 'sensor';
}

/** Whether a client of `service` makes tsinetd start its server program. */
export function startsProgram(service: Pick<Service, 'type' | 'flags' | 'redirect' | 'server'>): boolean {
  return serviceKind(service) === 'program' && service.server !== null;
}

/**
 * A TCPMUX service (RFC 1078): reached through the internal `tcpmux` service by its name, with
 * no socket of its own. 'plus' (xinetd's TCPMUXPLUS, inetd's `tcpmux/+NAME`): the daemon answers
 * "+Go" before the program starts; 'plain' (TCPMUX, `tcpmux/NAME`): the program answers itself.
 */
export function muxClient(service: Pick<Service, 'type'>): 'plain' | 'plus' | null {
  if (service.type.includes('TCPMUXPLUS')) return 'plus';
  if (service.type.includes('TCPMUX')) return 'plain';
  return null;
}
