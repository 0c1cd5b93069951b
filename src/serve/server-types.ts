// The serving core's contract: what it is given (ServerDeps), what it hands back (ServerHandle,
// ReloadSummary, ServingState for the consistency check), and which services of a table it
// serves (servableServices).

import type { Admission } from '../admission/admission-types.js';
import type { Environment } from '../spawn/child-env.js';
import type { IdentRequest, IdentResult } from './ident.js';
import type { ListenerState } from './listener.js';
import type { EventLog } from '../log/log-types.js';
import type { ServeMetrics } from '../ops/metrics.js';
import type { Spawner } from '../spawn/spawn-types.js';
import type { SysDb } from '../sys/sysdb.js';
import type { Service, ServiceTable } from '../table.js';
import type { RpcbindCalls } from './rpcbind-client.js';
import type { Rpcb } from './rpc-xdr.js';

export interface ServerDeps {
  log: EventLog;
  spawner: Spawner;
  /** Default: admit everyone (allowAll). */
  admission?: Admission;
  /** The environment servers inherit (default process.env). */
  env?: Environment;
  db?: SysDb;
  /** The daemon's effective uid (default process.geteuid()). */
  uid?: number;
  /** The umask servers get when their service sets none (default: the current one ORed with 022). */
  umask?: number;
  now?: () => Date;
  /** Counts accepted and refused clients and server starts (the metrics endpoint). */
  metrics?: ServeMetrics;
  /** USERID lookups (ident.ts): -logprocs and the identd port; defaults as xinetd's. */
  ident?: IdentOptions;
  /**
   * First pause before binding again a socket that could not be bound (bind-retry.ts); null
   * gives such a service up until the next reload. Default DEFAULT_BIND_RETRY_MS.
   */
  bindRetryMs?: number | null;
  /**
   * The rpcbind RPC services register with (default rpcbindClient(): /run/rpcbind.sock, asked
   * only once an RPC service is served) and how often its table is checked for lost mappings.
   */
  rpcbind?: { calls?: RpcbindCalls; checkMs?: number };
}

export interface IdentOptions {
  /** -logprocs N: lookups for refused clients at a time (default 15). */
  logprocs?: number | null;
  /** The identd port asked (default 113). */
  port?: number;
  successTimeoutMs?: number;
  failureTimeoutMs?: number;
  lookup?: (req: IdentRequest) => Promise<IdentResult>;
}

/** What a consistency check (consistency.ts) is given about serving. */
export interface ServingState {
  /** `socket`: the listener's key (a service may have one socket per address family). */
  listeners: Array<{ id: string; socket?: string; state: ListenerState; hasSocket: boolean }>;
  /** Server programs believed to be running. */
  servers: Array<{ pid: number; id: string }>;
  /** In-process connections (internal services, redirects) by service id. */
  inProcess: Map<string, number>;
  /** Program starts asked of the spawner and not confirmed yet. */
  startsInFlight: number;
}

export interface ReloadSummary {
  /** Services started by the reload. */
  added: number;
  /** Services that kept their socket (settings replaced). */
  kept: number;
  /** Services no longer served. */
  dropped: number;
}

export interface ServerHandle {
  /** Services listening now (xinetd's "available services"). */
  readonly available: number;
  /** Services whose socket could not be bound yet and that keep trying (bind-retry.ts). */
  readonly pending: number;
  /** The services listening now. */
  activeServices(): Service[];
  /** Running servers: programs, plus in-process internal services and redirects. */
  runningServers(service?: Service): number;
  /** pids of the running server programs. */
  serverPids(): number[];
  /** The port a service (by id) listens on now, or null (useful with `port = 0` in tests). */
  portOf(id: string): number | null;
  /** The port of each service listening now (its first socket), in one pass over the listeners. */
  activePorts(): Map<string, number>;
  /** The state of each service with a socket now (listening, or suspended for a while), by id. */
  listenerStates(): Map<string, ListenerState>;
  /** Serves exactly the servable services of `table` from now on (see ListenerSet.apply). */
  reload(table: ServiceTable | readonly Service[]): Promise<ReloadSummary>;
  /**
   * Sends `signal` to every running server program, including those whose start is still
   * being confirmed (waited for up to `settleMs`); resolves with how many were signalled.
   */
  killServers(signal?: NodeJS.Signals, settleMs?: number): Promise<number>;
  /**
   * Ends the servers of the services with these ids (a reload removed them): programs get
   * `signal`, in-process connections (internal services, redirects) are closed. Returns the
   * programs signalled and how many in-process connections were closed.
   */
  endServersOf(
    ids: ReadonlySet<string>,
    signal?: NodeJS.Signals,
    settleMs?: number,
  ): Promise<{ programs: Array<{ id: string; pid: number }>; inProcess: number }>;
  /** What the consistency check looks at (see consistency.ts). */
  servingState(): ServingState;
  /** The mappings registered with rpcbind now, for the RPC services, with their service ids. */
  rpcRegistrations(): Array<{ serviceId: string; rpcb: Rpcb }>;
  /** Stops listening and ends in-process connections; server programs are left alone. */
  close(): Promise<void>;
}

/** The services of a table that the daemon tries to serve: enabled and without problems. */
export function servableServices(table: ServiceTable | readonly Service[]): Service[] {
  const services = 'services' in table ? table.services : table;
  return services.filter((s) => s.enabled && s.problems.length === 0);
}
