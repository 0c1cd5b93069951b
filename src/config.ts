// Config loading entry point: the xinetd configuration tree, plus classic inetd.conf files,
// into one ServiceTable. (Stub: replaced by the config-language work.)
import type { ServiceTable } from './table.js';

export interface LoadRequest {
  /** The xinetd configuration file (`-f`); null to load only inetd files. */
  configFile: string | null;
  /** Classic inetd.conf files, loaded after the xinetd configuration. */
  inetdFiles: string[];
}

export async function loadConfig(req: LoadRequest): Promise<ServiceTable> {
  void req;
  return { services: [], diagnostics: [], files: [] };
}
