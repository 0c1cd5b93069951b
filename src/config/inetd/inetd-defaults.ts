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
// cps: from defaults when they set it. Otherwise the file read for -inetd_compat gets xinetd's
// implicit 50 per second, 10 s off, as in xinetd (on top of the file's own `.N` rate, so that
// tsinetd never serves a burst xinetd would refuse); other inetd.conf files keep no cps limit,
// as their inetd has none.

import { ATTRIBUTES, handled, type Inheritance } from '../xinetd/attributes.js';
import { fillFromDefaults, type XinetdDefaults } from '../xinetd/build.js';
import type { Service } from '../../table.js';

/** The rows' inheritance, where an attribute has any. */
const INHERITED: readonly { key: string; inherit: Inheritance }[] = ATTRIBUTES.flatMap((r) => (handled(r.inherit) ? [{ key: r.key, inherit: r.inherit }] : []));

/** The attributes an inetd.conf service set from its own line (not replaced by defaults). */
export function inetdOwnAttributes(s: Service): Set<string> {
  return new Set(INHERITED.filter(({ inherit }) => inherit.inetdOwn?.(s) === true).map(({ key }) => key));
}

/**
 * Fills inetd.conf services (in place) from the xinetd defaults, as xinetd's service_fill does;
 * `compat`: the file is the one -inetd_compat reads, which also gets xinetd's implicit cps.
 */
export function applyDefaultsToInetd(services: readonly Service[], def: XinetdDefaults, compat: boolean): void {
  for (const s of services) {
    fillFromDefaults(s, inetdOwnAttributes(s), def);
    for (const { inherit } of INHERITED) inherit.inetd?.(s, def, compat);
  }
}
