// One pass of a reload (SIGHUP): the configuration read again and merged with what is served
// (reload.ts: broken new definitions keep the current one), sockets reconciled, the servers of
// removed services killed, and the end of the daemon when nothing is left to serve. The daemon
// (daemon.ts) runs the passes, one at a time, after reopening the log files.

import { existsSync } from 'node:fs';
import { activated } from '../service-needs.js';
import { message, type ServicePreparer } from './daemon-services.js';
import type { XinetdEventLog } from '../log/log.js';
import type { Say } from '../message-codes.js';
import { keepsSockets, mergeReload, planReload, reinstate, socketsKeyOnce, type KeptDefinition } from './reload.js';
import type { ServerHandle } from '../serve/server-types.js';
import type { Spawner } from '../spawn/spawn-types.js';
import type { Service, ServiceTable } from '../table.js';

/** What a reload pass needs of the daemon. */
export interface ReloadContext {
  /** The definitions served now (what the new configuration is merged with). */
  readonly served: Service[];
  readonly stopping: boolean;
  /** -stayalive: a reload that leaves nothing to serve does not end the daemon. */
  readonly stayalive: boolean;
  readonly spawner: Spawner | null;
  readonly services: ServicePreparer;
  readonly log: XinetdEventLog;
  readonly daemon: Say;
  /** The pass's services and table are served from now on. */
  commit(served: Service[], table: ServiceTable): void;
  /** For the metrics endpoint. */
  reloaded(outcome: 'ok' | 'failed'): void;
  /** Nothing is left to serve: stop the daemon (exit status 1). */
  stop(): void;
}

/** One reload pass; 'end' when the daemon stops (or is stopping), so no further pass may run. */
export async function reloadOnce(c: ReloadContext, handle: ServerHandle): Promise<'end' | 'done'> {
  try {
    // What is bound now binds first: it keeps its port in a clash with a new service, as in xinetd.
    const bound = keepsSockets(c.served, socketsKeyOnce());
    const next = await c.services.load(bound);
    if (c.stopping) return 'end';
    const merged = mergeReload(c.served, next, { fileExists: existsSync });
    c.services.reportUnstarted(merged.table);
    if (c.spawner !== null) c.services.warnLimitations(merged.table, c.spawner);
    const prepared = await c.services.prepare(merged.table);
    const restored = reinstate(c.served, merged.serve, prepared, 'its new access lists cannot be used');
    reportKept(c, [...merged.kept, ...restored.kept]);
    const plan = planReload(c.served, restored.serve, bound);
    // What gets a socket is activated (wrappers.ts activated()); a kept service takes its new
    // definition as it is, as xinetd's readjust does.
    const kept = new Set(plan.keep);
    const services = restored.serve.map((s) => (kept.has(s) ? s : activated(s)));
    c.log.open(services);
    for (const s of plan.keep) c.daemon('readjusting', 'notice', `readjusting service ${s.id}`, 'readjust');
    await handle.reload(services);
    await endRemoved(c, handle, plan.remove);
    for (const { to } of plan.restart) {
      c.daemon('new-socket', 'notice', `service ${to.id}: listening parameters changed, new socket (running servers are kept)`, 'readjust');
    }
    c.commit(services, merged.table);
    const states = handle.listenerStates();
    const started = plan.add.filter((s) => states.has(s.id)).length;
    const old = plan.keep.length + plan.restart.length;
    c.daemon('reconfigured', 'notice', `Reconfigured: new=${started} old=${old} dropped=${plan.remove.length} (services)`, 'hard_reconfig');
    c.reloaded('ok');
    const serving = [...states.values()].some((st) => st === 'active' || st === 'suspended' || st === 'retrying');
    if (!serving && !c.stayalive) {
      // As xinetd: without -stayalive (or -dontfork), a reload that leaves nothing ends the daemon
      // (a service switched off for a while by cps still counts).
      c.daemon('no-services', 'error', 'No available services. Exiting', 'hard_reconfig');
      c.stop();
      return 'end';
    }
  } catch (err) {
    c.daemon('reload-failed', 'error', `reconfiguration failed, the previous configuration stays: ${message(err)}`, 'hard_reconfig');
    c.reloaded('failed');
  }
  return 'done';
}

function reportKept(c: ReloadContext, kept: readonly KeptDefinition[]): void {
  for (const k of kept) {
    c.daemon(
      'definition-kept',
      'error',
      `service ${k.service.id}: the new definition is not used, the previous one stays in service: ${k.why}`,
      'hard_reconfig',
    );
  }
}

/**
 * Kills the servers of these services with SIGKILL, each with xinetd's line (reconfig.c
 * sendsig, also written at SIGTERM for RPC services' servers, main.c terminate_program);
 * resolves to the count of their in-process connections, which are closed.
 */
export async function killServersOf(daemon: Say, handle: ServerHandle, ids: ReadonlySet<string>): Promise<number> {
  if (ids.size === 0) return 0;
  const ended = await handle.endServersOf(ids, 'SIGKILL');
  for (const p of ended.programs) daemon('kill-server', 'warning', `Sending signal 9 to ${p.id} server ${p.pid}`, 'sendsig');
  return ended.inProcess;
}

/** A reload removed these services: their servers are killed, as xinetd does. */
async function endRemoved(c: ReloadContext, handle: ServerHandle, removed: readonly Service[]): Promise<void> {
  if (removed.length === 0) return;
  const inProcess = await killServersOf(c.daemon, handle, new Set(removed.map((s) => s.id)));
  if (inProcess > 0) {
    c.daemon('connections-closed', 'warning', `closed ${inProcess} connection(s) served in-process by removed services`, 'hard_reconfig');
  }
  for (const s of removed) c.daemon('service-deactivated', 'notice', `service ${s.id} deactivated`, 'hard_reconfig');
}
