// `--check` and `--dump`: what this run could not do as configured, as located warnings at the
// `service` line of each service concerned: attributes the spawner in use cannot apply
// (spawner.ts) and serving limitations (listen-plan.ts). The daemon logs the same findings when
// it starts; --check tells them before.

import { about, diag, type Diagnostic } from '../diagnostics.js';
import { servingLimitations } from '../serve/listen-plan.js';
import { servableServices } from '../serve/server-types.js';
import { hasSensor, unsupportedBySpawner } from '../spawn/spawner.js';
import type { SpawnCapabilities } from '../spawn/spawn-types.js';
import type { ServiceTable } from '../table.js';

/** One warning per limitation of each servable service, at its `service` line. */
export function limitationDiagnostics(table: ServiceTable, spawner: { name: string; capabilities: SpawnCapabilities }): Diagnostic[] {
  const out: Diagnostic[] = [];
  const services = servableServices(table);
  const sensor = hasSensor(services);
  for (const s of services) {
    const at = { file: s.source.file, line: s.source.line, column: 1 };
    for (const m of unsupportedBySpawner(s, spawner.capabilities, spawner.name, sensor))
      out.push(about(diag('limitation', 'warning', at, `service ${s.id}: ${m}`), s.id));
    for (const m of servingLimitations(s, spawner.capabilities.unixDatagram === true))
      out.push(about(diag('limitation', 'warning', at, `service ${s.id}: ${m}`), s.id));
  }
  return out;
}
