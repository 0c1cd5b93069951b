// Checks 11, the address lists of admission: only_from / no_access compiled once per Service
// object (host and network names resolved first), and the verified host names of peers kept
// for a while, for `.domain` entries. The decision itself is acl.ts's, pure; this holds the
// caches around it. Part of AdmissionController (admission.ts).

import { compileServiceAcl, decideAccess, type ServiceAcl } from './acl.js';
import { formatAddress } from './acl-address.js';
import { aclNames } from './acl-entry.js';
import { resolveAclNames, verifiedHostnames, type NameResolver } from './acl-resolver.js';
import { ALLOW, type Decision } from './admission-types.js';
import { BoundedTable } from '../util/bounded-table.js';
import type { Peer } from '../peer.js';
import type { Service } from '../table.js';

interface HostnameEntry {
  names: string[];
  expires: number;
}

export class AddressLists {
  private readonly acls = new WeakMap<Service, ServiceAcl>();
  /**
   * The lists compiled without names, shared by every service with the same lists (generated
   * configurations repeat one `only_from` thousands of times; each copy cost ~300 bytes). A
   * compiled list is never changed. Held weakly: a reload that drops the last service with
   * those lists lets them go, and the key after them.
   */
  private readonly shared = new Map<string, WeakRef<ServiceAcl>>();
  private readonly forget = new FinalizationRegistry<string>((key) => {
    if (this.shared.get(key)?.deref() === undefined) this.shared.delete(key);
  });
  private readonly aclsInProgress = new WeakMap<Service, Promise<ServiceAcl>>();
  private readonly hostnames: BoundedTable<HostnameEntry>;
  private readonly hostnameLookups = new Map<string, Promise<string[]>>();

  constructor(
    private readonly resolver: NameResolver,
    private readonly now: () => number,
    private readonly hostnameTtlMs: number,
  ) {
    this.hostnames = new BoundedTable<HostnameEntry>(4096, (e) => e.expires <= this.now());
  }

  /** The compiled lists when they need no name lookup (compiled now if need be); else null. */
  compiled(service: Service): ServiceAcl | null {
    return this.acls.get(service) ?? this.compileWithoutNames(service);
  }

  private compileWithoutNames(service: Service): ServiceAcl | null {
    if (aclNames(service).length > 0) return null;
    const key = JSON.stringify([service.only_from, service.no_access]);
    let acl = this.shared.get(key)?.deref();
    if (acl === undefined) {
      acl = compileServiceAcl(service);
      this.shared.set(key, new WeakRef(acl));
      this.forget.register(acl, key);
    }
    this.acls.set(service, acl);
    return acl;
  }

  aclOf(service: Service): Promise<ServiceAcl> {
    const done = this.compiled(service);
    if (done !== null) return Promise.resolve(done);
    let pending = this.aclsInProgress.get(service);
    if (pending === undefined) {
      pending = resolveAclNames(service, this.resolver).then((names) => {
        const acl = compileServiceAcl(service, names);
        this.acls.set(service, acl);
        this.aclsInProgress.delete(service);
        return acl;
      });
      this.aclsInProgress.set(service, pending);
    }
    return pending;
  }

  addressDecision(service: Service, peer: Peer, acl: ServiceAcl, addr: bigint, names: readonly string[] | null): Decision {
    const verdict = decideAccess(acl, addr, names);
    if (verdict.allow) return ALLOW;
    const detail =
      verdict.why === 'both'
        ? `Service=${service.id}: only_from list and no_access list match equally the address ${peer.address}`
        : verdict.why === 'no_access'
          ? `${peer.address} matches no_access`
          : `${peer.address} is not in only_from`;
    return { allow: false, reason: 'address', detail };
  }

  hostnamesOf(addr: bigint): Promise<string[]> {
    const key = formatAddress(addr);
    const cached = this.hostnames.get(key);
    if (cached !== undefined && cached.expires > this.now()) return Promise.resolve(cached.names);
    let pending = this.hostnameLookups.get(key);
    if (pending === undefined) {
      pending = verifiedHostnames(addr, this.resolver).then((names) => {
        this.hostnames.set(key, { names, expires: this.now() + this.hostnameTtlMs });
        this.hostnameLookups.delete(key);
        return names;
      });
      this.hostnameLookups.set(key, pending);
    }
    return pending;
  }
}
