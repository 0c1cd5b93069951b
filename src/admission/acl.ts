// only_from / no_access: compiling each list once per service into address ranges, and
// matching a peer against both lists (xinetd's precedence). The address space is in
// acl-address.ts, the reading of one entry in acl-entry.ts, the names in acl-resolver.ts.

import { ALL_ONES, parsePeerAddress } from './acl-address.js';
import { networkNumberToNet, parseAclEntry, type AclNet } from './acl-entry.js';
import type { ResolvedNames } from './acl-resolver.js';
import type { Service } from '../table.js';

/** A problem with one entry. Errors drop the entry (xinetd: "failed to parse"). */
export interface AclProblem {
  entry: string;
  severity: 'error' | 'warning';
  message: string;
  /** xinetd disables the whole service for this entry (malformed factorized address). */
  disablesService?: boolean;
}

/** A compiled only_from or no_access list. */
export interface CompiledAcl {
  /** False when the attribute is not set (null): the list neither allows nor refuses. */
  readonly set: boolean;
  readonly nets: readonly AclNet[];
  /** `.domain` suffixes, lower case, leading dot kept. */
  readonly domains: readonly string[];
  readonly problems: readonly AclProblem[];
}

/** The list that is not set: it neither admits nor refuses anyone. */
export const UNSET_ACL: CompiledAcl = { set: false, nets: [], domains: [], problems: [] };

/**
 * Compiles one list once. `null` = attribute not set; `[]` = set empty (matches nobody).
 * Name entries take their addresses from `names` (see resolveAclNames); a name missing
 * there is reported and ignored. Never throws.
 */
export function compileAcl(entries: readonly string[] | null, names: ResolvedNames = new Map(), listName = 'address list'): CompiledAcl {
  if (entries === null) return UNSET_ACL;
  const nets: AclNet[] = [];
  const domains: string[] = [];
  const problems: AclProblem[] = [];
  const problem = (entry: string, severity: AclProblem['severity'], text: string, disablesService = false): void => {
    const p: AclProblem = { entry, severity, message: `${listName} entry \`${entry}\`: ${text}` };
    if (disablesService) p.disablesService = true;
    problems.push(p);
  };
  for (const entry of entries) {
    if (entry === '') continue;
    const p = parseAclEntry(entry);
    switch (p.kind) {
      case 'nets':
        nets.push(...p.nets);
        for (const w of p.warnings) problem(entry, 'warning', w);
        break;
      case 'domain':
        domains.push(p.suffix);
        break;
      case 'invalid':
        problem(
          entry,
          'error',
          p.disablesService === true ? `${p.message}; the service is disabled (as xinetd does)` : `${p.message}; entry ignored`,
          p.disablesService === true,
        );
        break;
      case 'name': {
        const r = names.get(p.name);
        if (r === undefined) {
          problem(entry, 'error', 'name not resolved yet; entry ignored');
        } else if (r.kind === 'host') {
          for (const a of r.addresses) {
            const v = parsePeerAddress(a);
            if (v !== null) nets.push({ entry, network: v, mask: ALL_ONES, prefix: 128 });
          }
        } else if (r.kind === 'network') {
          const net = networkNumberToNet(entry, r.number);
          if (net === null) problem(entry, 'error', `network number ${r.number} is not usable; entry ignored`);
          else nets.push(net);
        } else {
          problem(entry, 'error', `${r.message}; entry ignored`);
        }
        break;
      }
    }
  }
  // Copies of exact length: the lists grew by push, with room to spare, and live as long as the service.
  return { set: true, nets: nets.slice(), domains: domains.slice(), problems };
}

export function matchesAddress(acl: CompiledAcl, addr: bigint): boolean {
  for (const n of acl.nets) if ((addr & n.mask) === n.network) return true;
  return false;
}

/** True when one of the (already verified) host names ends with one of the `.domain` entries. */
export function matchesDomain(acl: CompiledAcl, hostnames: readonly string[]): boolean {
  for (const raw of hostnames) {
    const h = raw.toLowerCase().replace(/\.$/, '');
    for (const d of acl.domains) if (h.length > d.length && h.endsWith(d)) return true;
  }
  return false;
}

/** Both lists of a service, compiled. */
export interface ServiceAcl {
  onlyFrom: CompiledAcl;
  noAccess: CompiledAcl;
}

export function compileServiceAcl(service: Pick<Service, 'only_from' | 'no_access'>, names: ResolvedNames = new Map()): ServiceAcl {
  return {
    onlyFrom: compileAcl(service.only_from, names, 'only_from'),
    noAccess: compileAcl(service.no_access, names, 'no_access'),
  };
}

export type AccessVerdict = { allow: true } | { allow: false; why: 'no_access' | 'only_from' | 'both' };

/**
 * xinetd's rule: an address on both lists is refused ("match equally"), even when the
 * only_from entry is the more specific one; on no_access only → refused; only_from set and
 * not on it → refused; otherwise admitted. `hostnames` = the peer's verified names, or null
 * when no lookup was made (then `.domain` entries match nothing).
 */
export function decideAccess(acl: ServiceAcl, addr: bigint, hostnames: readonly string[] | null = null): AccessVerdict {
  const names = hostnames ?? [];
  const na = acl.noAccess.set && (matchesAddress(acl.noAccess, addr) || matchesDomain(acl.noAccess, names));
  const of = acl.onlyFrom.set && (matchesAddress(acl.onlyFrom, addr) || matchesDomain(acl.onlyFrom, names));
  if (na && of) return { allow: false, why: 'both' };
  if (na) return { allow: false, why: 'no_access' };
  if (acl.onlyFrom.set && !of) return { allow: false, why: 'only_from' };
  return { allow: true };
}

/** Whether the peer's host name could change decideAccess's answer (so a lookup is worth it). */
export function needsHostnames(acl: ServiceAcl, addr: bigint): boolean {
  if (acl.noAccess.set && matchesAddress(acl.noAccess, addr)) return false; // refused whatever the name
  if (acl.noAccess.domains.length > 0) return true;
  return acl.onlyFrom.set && acl.onlyFrom.domains.length > 0 && !matchesAddress(acl.onlyFrom, addr);
}
