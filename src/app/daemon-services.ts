// What the daemon serves from a configuration, at start and at each reload: the table loaded
// (its diagnostics logged), the enabled services that cannot run reported, the access lists
// prepared (names resolved now, as xinetd does at load) and TCP wrappers' files read, the
// services xinetd would disable left out, and what this run cannot do warned about.

import type { AdmissionController } from '../admission/admission.js';
import type { AclProblem } from '../admission/acl.js';
import { limitationDiagnostics } from './check-limitations.js';
import { loadConfig, type LoadRequest } from '../config/config.js';
import { formatDiagnostic, type Diagnostic } from '../diagnostics.js';
import type { Say } from '../message-codes.js';
import { loadRequestOf, type DaemonOptions } from './options.js';
import { servableServices } from '../serve/server-types.js';
import type { Spawner } from '../spawn/spawn-types.js';
import type { Service, ServiceTable } from '../table.js';
import { wrapsService, type Wrappers } from '../admission/wrappers/wrappers.js';

/** The daemon level of a diagnostic logged by the daemon. */
export function diagnosticLevel(d: Diagnostic): 'error' | 'warning' | 'info' {
  return d.severity === 'error' ? 'error' : d.severity === 'warning' ? 'warning' : 'info';
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class ServicePreparer {
  constructor(
    private readonly opts: DaemonOptions,
    private readonly loadTable: ((req: LoadRequest) => Promise<ServiceTable>) | undefined,
    private readonly admission: AdmissionController,
    private readonly wrappers: Wrappers,
    private readonly log: Say,
  ) {}

  /** Loads the configuration and logs its diagnostics; `boundFirst`: on a reload, see LoadRequest. */
  async load(boundFirst?: (s: Service) => boolean): Promise<ServiceTable> {
    const load = this.loadTable ?? loadConfig;
    const table = await load({ ...loadRequestOf(this.opts), ...(boundFirst !== undefined ? { boundFirst } : {}) });
    for (const d of table.diagnostics) this.log('config-problem', diagnosticLevel(d), formatDiagnostic(d), 'parse', d.code);
    return table;
  }

  /** Logs the enabled services that cannot run (missing program, unknown user...). */
  reportUnstarted(table: ServiceTable): void {
    for (const s of table.services) {
      if (s.enabled && s.problems.length > 0) {
        this.log('service-not-started', 'error', `service ${s.id} is not started: ${s.problems.join('; ')}`, 'svc_activate');
      }
    }
  }

  /**
   * The services to serve: resolves and compiles their access lists (names resolved now, as
   * xinetd does at load), logs the problems, and leaves out services xinetd would disable.
   */
  async prepare(table: ServiceTable): Promise<Service[]> {
    const services = servableServices(table);
    let problems: Map<string, AclProblem[]>;
    try {
      problems = await this.admission.prepare(services);
    } catch (err) {
      this.log('internal-error', 'error', `cannot prepare the access lists: ${message(err)}`, 'access_control');
      return services;
    }
    // Read (and compile) the TCP wrappers' files now rather than on the first client's time;
    // their warnings go to the daemon log at start, as a reload's do.
    if (services.some(wrapsService)) this.wrappers.tables();
    return services.filter((s) => {
      const list = problems.get(s.id) ?? [];
      for (const p of list) this.log('address-list', p.severity, `service ${s.id}: ${p.message}`, 'addrlist');
      const fatal = list.find((p) => p.disablesService === true);
      if (fatal !== undefined) this.log('service-not-started', 'error', `service ${s.id} is not started: ${fatal.message}`, 'svc_activate');
      return fatal === undefined;
    });
  }

  /** Warns about what the configuration asks that this run cannot do. */
  warnLimitations(table: ServiceTable, spawner: Spawner): void {
    // The same findings as --check's, for the spawner this run really got.
    for (const d of limitationDiagnostics(table, spawner)) this.log('limitation', 'warning', d.message, 'svc_activate');
  }
}
