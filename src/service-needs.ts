// What serving a service needs of each connection, read from its settings alone (pure): which
// admission checks need the client's address, and whether an IDENT (USERID) lookup runs. The
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
