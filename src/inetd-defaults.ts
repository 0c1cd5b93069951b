// What the services of an inetd.conf file take from the `defaults` section of the xinetd
// configuration loaded with it (-inetd_compat, --inetd FILE with -f). Pure.
//
// xinetd reads /etc/inetd.conf into ordinary service entries and then runs its service_fill
// (confparse.c) on them as on every other service, so whatever an inetd.conf line does not set
// comes from the final defaults: log_type, log_on_success, log_on_failure, instances,
// per_source, cps, umask, max_load, bind, passenv (setup_environ). The access lists
// (only_from, no_access, access_times) and banners are copied when an xinetd entry *starts*
// (parse.c fill_attribute), which never happens for an inetd.conf line: they are not taken.
//
// What an inetd.conf line sets itself, and keeps:
// - groups: inetd calls initgroups(), and xinetd's inet.c sets `groups = yes` for the line;
// - the address families (v6only, and one socket per family): the line's protocol decides
//   them, as the file's own inetd does (xinetd's reading differs, see tsinetd.conf(5));
// - bind, when the line names a host (`host:service`);
// - instances and per_source, when the line gives FreeBSD's max-child / max-child-per-ip.
// cps stays off ([0, 0]) unless defaults set it: xinetd's implicit 50/10 is not applied.

import { fillFromDefaults, type XinetdDefaults } from './build.js';
import type { Service } from './table.js';

/** The attributes an inetd.conf service set from its own line (not replaced by defaults). */
export function inetdOwnAttributes(s: Service): Set<string> {
  const own = new Set(['groups', 'v6only']);
  if (s.bind !== null) own.add('bind');
  if (s.instances !== null) own.add('instances');
  if (s.per_source !== null) own.add('per_source');
  return own;
}

/** Fills inetd.conf services (in place) from the xinetd defaults, as xinetd's service_fill does. */
export function applyDefaultsToInetd(services: readonly Service[], def: XinetdDefaults): void {
  for (const s of services) {
    fillFromDefaults(s, inetdOwnAttributes(s), def);
    // setup_environ: without a passenv of its own, a service passes what defaults pass.
    if (s.passenv === null && def.set.has('passenv')) s.passenv = def.svc.passenv === null ? [] : [...def.svc.passenv];
  }
}
