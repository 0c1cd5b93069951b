// The daemon: composition root. Loads the configuration, starts the server (server.ts), writes
// the pid file, logs "Started working: N available services" once every socket is bound (the
// readiness signal; also sent to systemd and --ready-fd, see readiness.ts; --metrics starts the
// endpoint of metrics-http.ts), and handles xinetd's signals:
//   SIGTERM, SIGINT  stop: sockets are closed, the pid file is removed, the servers of RPC
//                    services get SIGKILL ("Sending signal 9 to ..."), the others SIGTERM
//                    (xinetd(8)), "Exiting...", exit status 0;
//   SIGQUIT          stop without signalling running servers;
//   SIGUSR1          append a text dump of the service table to the dump file;
//   SIGHUP, SIGUSR2  re-read the configuration and reconcile the sockets (see reload()).
// Without -dontfork (and without -d) it daemonizes like xinetd: Node cannot fork(), so it starts
// itself again, detached (setsid) with stdio closed, and the first process exits 0 once the
// second reports that it is serving, or 1 with the second's start-up error.
//
// What to serve from a configuration is daemon-services.ts, one reload pass daemon-reload.ts,
// the consistency check and the dump daemon-reports.ts.

import { RPCBIND_SOCKET, rpcbindClient } from '../serve/rpcbind-client.js';
import { unlinkSync } from 'node:fs';
import { activated } from '../service-needs.js';
import { AdmissionController } from '../admission/admission.js';
import { daemonUmaskFrom } from '../spawn/child-env.js';
import type { LoadRequest } from '../config/config.js';
import { fdTransitionText, watchFds } from '../ops/fd-watch.js';
import { collectAfterLoading, tuneHeapForDaemon } from './heap-tuning.js';
import { createEventLog, type XinetdEventLog } from '../log/log.js';
import { daemonMessage, type Say } from '../message-codes.js';
import { serviceStates } from '../ops/metrics.js';
import { describeEndpoint, startDaemonMetrics, type DaemonMetrics } from '../ops/metrics-http.js';
import { fromEnv, type DaemonOptions, type EnvOptions } from './options.js';
import { checkReadyFd, createReadinessSignals, signalReadyFd, type ReadinessSignals } from '../ops/readiness.js';
import { writeFileForDaemon } from '../sys/safe-open.js';
import { startServer } from '../serve/server.js';
import type { ServerHandle } from '../serve/server-types.js';
import { processExists, type ConsistencyInput } from '../ops/consistency.js';
import { SYSLOG_FACILITIES } from '../log/log-format.js';
import { createSpawner } from '../spawn/spawner.js';
import type { Spawner } from '../spawn/spawn-types.js';
import type { Service, ServiceTable } from '../table.js';
import { systemWrappers, type Wrappers } from '../admission/wrappers/wrappers.js';
import { VERSION } from './version.js';
import { diagnosticLevel, message, ServicePreparer } from './daemon-services.js';
import { killServersOf, reloadOnce, type ReloadContext } from './daemon-reload.js';
import { DaemonReports } from './daemon-reports.js';
import { useNodeInternals } from '../sys/uv-handles.js';
import { daemonize, readinessChannel, type Readiness } from './daemonize.js';

/** What runDaemon can be given instead of its defaults (tests, embedding). */
export interface DaemonDeps {
  /** Loads the service table (default: loadConfig, i.e. the xinetd and inetd files). */
  loadTable?: (req: LoadRequest) => Promise<ServiceTable>;
}

class Daemon {
  private table: ServiceTable = { services: [], diagnostics: [], files: [] };
  /** The definitions served now (what a reload is merged with). */
  private served: Service[] = [];
  private handle: ServerHandle | null = null;
  private readonly admission: AdmissionController;
  /** TCP wrappers' hosts.allow and hosts.deny (read again whenever they change) and lookups. */
  private readonly wrappers: Wrappers;
  /** What to serve from a configuration (daemon-services.ts). */
  private readonly services: ServicePreparer;
  /** The consistency check and the dump (daemon-reports.ts). */
  private readonly reports: DaemonReports;
  private spawner: Spawner | null = null;
  private stopping = false;
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;
  private pidfileWritten = false;
  private finish: (code: number) => void = () => {};
  /** Keeps the process running while nothing else would (no socket left: -stayalive). */
  private keepAlive: NodeJS.Timeout | null = null;
  private stopFdWatch: (() => void) | null = null;
  private readonly handlers: Array<[NodeJS.Signals, () => void]> = [];
  private removeFatalHandler: () => void = () => {};
  /** The --metrics endpoint, when asked for. */
  private observed: DaemonMetrics | null = null;

  constructor(
    private readonly opts: DaemonOptions,
    private readonly log: XinetdEventLog,
    private readonly ready: Readiness | null,
    deps: DaemonDeps,
    private readonly signals: ReadinessSignals | null = null,
    private readonly env: EnvOptions,
  ) {
    this.wrappers = systemWrappers(
      opts.hostsAllow,
      opts.hostsDeny,
      (d) => this.daemon('hosts-problem', diagnosticLevel(d), `${d.file}, line ${d.line}: ${d.message}`, 'libwrap', d.code),
      (text) => this.daemon('libwrap-warning', 'warning', text, 'libwrap'),
      env.identPort,
    );
    this.admission = new AdmissionController({ processLimit: opts.limit, resolver: this.wrappers.lookups.resolver, wrappers: this.wrappers });
    const self = this;
    this.reports = new DaemonReports(
      opts,
      {
        get handle() {
          return self.handle;
        },
        get table() {
          return self.table;
        },
        get stopping() {
          return self.stopping;
        },
        consistencyInput: () => this.consistencyInput(),
      },
      this.daemon,
    );
    this.services = new ServicePreparer(opts, deps.loadTable, this.admission, this.wrappers, this.daemon);
  }

  /** Logs a daemon message (message-codes.ts). */
  private readonly daemon: Say = (code, level, text, func, diagnostic) => this.log.log(daemonMessage(code, level, text, func, diagnostic));

  async run(): Promise<number> {
    let table: ServiceTable;
    try {
      table = await this.services.load();
    } catch (err) {
      return this.abort('start-failed', `cannot load the configuration: ${message(err)}`);
    }
    this.table = table;
    this.services.reportUnstarted(table);
    let spawner: Spawner;
    useNodeInternals(this.env.nodeInternals);
    try {
      spawner = await createSpawner(
        { onWarning: (m) => this.daemon('spawn-helper', 'warning', m, 'spawner'), onNotice: (code, m) => this.daemon(code, 'notice', m, 'spawner') },
        this.env,
      );
    } catch (err) {
      return this.abort('start-failed', `cannot start servers: ${message(err)}`);
    }
    this.spawner = spawner;
    this.services.warnLimitations(table, spawner);
    // Every socket is opened now: activated as xinetd's activation leaves them (NOLIBWRAP for RPC over TCP).
    const services = (await this.services.prepare(table)).map(activated);
    this.served = services;
    this.log.open(services);
    this.daemon('started', 'notice', `tsinetd ${VERSION} started with the ${spawner.name} spawner`);
    if (this.opts.metrics !== null) {
      try {
        this.observed = await startDaemonMetrics(this.opts.metrics, VERSION);
      } catch (err) {
        return this.abort('start-failed', `cannot start the metrics endpoint: ${message(err)}`, 'metrics');
      }
      this.daemon('metrics-endpoint', 'notice', `metrics endpoint on ${describeEndpoint(this.observed.endpoint.address)}`, 'metrics');
    }

    let handle: ServerHandle;
    try {
      const metrics = this.observed?.metrics;
      handle = await startServer(services, {
        log: this.log,
        spawner,
        admission: this.admission,
        ident: { logprocs: this.opts.logprocs, ...(this.env.identPort !== undefined ? { port: this.env.identPort } : {}) },
        bindRetryMs: this.env.bindRetryMs,
        rpcbind: {
          calls: rpcbindClient(this.env.rpcbindSocket ?? RPCBIND_SOCKET),
          ...(this.env.rpcbindCheckMs !== undefined ? { checkMs: this.env.rpcbindCheckMs } : {}),
        },
        ...(metrics !== undefined ? { metrics } : {}),
      });
    } catch (err) {
      return this.abort('start-failed', `cannot start serving: ${message(err)}`);
    }
    this.handle = handle;
    this.observed?.metrics.setSource({
      services: () => serviceStates(this.table.services, handle.listenerStates()),
      running: (s) => handle.runningServers(s),
    });
    // A service whose port is taken keeps trying (bind-retry.ts): it keeps the daemon up.
    if (handle.available === 0 && handle.pending === 0 && !this.opts.stayalive) {
      await handle.close();
      return this.abort('no-services', 'no services. Exiting...', 'init_services');
    }

    const done = new Promise<number>((resolve) => {
      this.finish = resolve;
    });
    this.keepAlive = setInterval(() => {}, 1 << 30);
    this.stopFdWatch = watchFds((t) => this.daemon('file-descriptors', t.kind === 'exhausted' ? 'error' : 'notice', fdTransitionText(t), 'fd_watch'));
    this.installSignals();
    this.installFatalHandler();
    this.reports.startPeriodic();
    // One pass: a lookup per service made 10,000 services cost seconds (#16).
    for (const [id, port] of handle.activePorts()) this.daemon('listening', 'debug', `service ${id}: listening on port ${port}`, 'activate_normal');
    if (this.opts.pidfile !== null) {
      // Never through a symlink or someone else's file planted in a shared directory (safe-open.ts).
      const written = writeFileForDaemon(this.opts.pidfile, `${process.pid}\n`);
      if (written.ok) this.pidfileWritten = true;
      else this.daemon('pidfile', 'error', `cannot write the pid file ${this.opts.pidfile}: ${written.reason}`, 'main');
    }
    const n = handle.available;
    this.daemon('started-working', 'notice', `Started working: ${n} available service${n === 1 ? '' : 's'}`, 'main');
    this.ready?.ok();
    if (this.observed !== null) this.observed.serving = true;
    this.signals?.ready(`Serving ${n} service${n === 1 ? '' : 's'}`);
    void collectAfterLoading(this.env);
    return done;
  }

  private async abort(code: 'start-failed' | 'no-services', text: string, func = 'main'): Promise<number> {
    this.daemon(code, 'error', text, func);
    this.ready?.fail(text);
    // In the foreground the daemon log may already be stderr; say it there once in any case.
    const logOnStderr = this.opts.debug || (this.opts.filelog === null && this.opts.syslog === null);
    if (this.ready === null && !logOnStderr) process.stderr.write(`tsinetd: ${text}\n`);
    await this.observed?.close();
    await this.spawner?.close();
    await this.log.close();
    return 1;
  }

  private installSignals(): void {
    const on = (signal: NodeJS.Signals, action: () => void): void => {
      process.on(signal, action);
      this.handlers.push([signal, action]);
    };
    on('SIGTERM', () => void this.stop(true));
    on('SIGINT', () => void this.stop(true));
    on('SIGQUIT', () => void this.stop(false));
    on('SIGUSR1', () => this.reports.dump());
    on('SIGHUP', () => void this.reload());
    on('SIGUSR2', () => void this.reload());
    // SIGIOT is SIGABRT's other name (the same signal number on Linux).
    on('SIGABRT', () => void this.reports.consistencyCheck('requested'));
  }

  /**
   * A bug that escapes every handler (an exception thrown in a callback, a rejected promise
   * nobody awaits) would end Node with a stack trace on a standard error that a detached daemon
   * has closed. Instead the daemon logs it and stops as for SIGQUIT: servers keep running, so
   * their clients are not cut off; lines logged before are written; the pid file is removed;
   * the exit status is 1, for a service manager to restart it.
   */
  private installFatalHandler(): void {
    const fatal = (err: unknown): void => {
      this.daemon('internal-error', 'error', `internal error: ${describeFatal(err)}; stopping`, 'main');
      if (this.stopping) return;
      // The stop itself may meet the same fault: it gets a deadline.
      setTimeout(() => process.exit(1), FATAL_STOP_DEADLINE_MS).unref();
      this.stop(false, 1).catch(() => this.finish(1));
    };
    process.on('uncaughtException', fatal);
    process.on('unhandledRejection', fatal);
    this.removeFatalHandler = () => {
      process.off('uncaughtException', fatal);
      process.off('unhandledRejection', fatal);
    };
  }

  /** The state the consistency check looks at (null once stopping). */
  private consistencyInput(): ConsistencyInput | null {
    const handle = this.handle;
    // A reload swaps sockets and services: its passing states are not inconsistencies.
    if (handle === null || this.stopping || this.reloading !== null) return null;
    return {
      served: this.served,
      serving: handle.servingState(),
      admission: this.admission.snapshot(),
      processLimit: this.opts.limit,
      alive: processExists,
    };
  }

  /**
   * SIGHUP: re-reads the configuration and merges it with what is served (reload.ts): services
   * whose new definition is broken keep the current one (logged); unchanged listening
   * parameters keep their socket, servers and connections; new settings apply to the next
   * connection; removed services lose their socket and their servers are killed (SIGKILL, as
   * xinetd does). Running servers of remaining services are not checked again (xinetd
   * 2.3.15.3 does not either, whatever xinetd(8) says). Log files are reopened first, even when
   * the reload then fails (log rotation).
   */
  private reload(): Promise<void> {
    if (this.stopping || this.handle === null) return Promise.resolve();
    if (this.reloading !== null) {
      this.reloadAgain = true;
      return this.reloading;
    }
    const handle = this.handle;
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        this.daemon('reconfiguring', 'notice', 'Starting reconfiguration', 'hard_reconfig');
        this.signals?.reloading();
        // Log files first, whatever becomes of the reload: logrotate has renamed them and sent
        // this SIGHUP, and a file left open would be compressed under the daemon at the next
        // rotation. The rest of the reload's lines go to the new files.
        await this.log.reopen();
        if ((await reloadOnce(this.reloadContext(), handle)) === 'end') return;
        if (!this.stopping) this.signals?.ready(`Serving ${handle.available} service${handle.available === 1 ? '' : 's'}`);
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- reload() may have asked again during the awaits; TypeScript keeps the narrowing from the loop's start
      } while (this.reloadAgain && !this.stopping);
    })().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  /** The daemon as a reload pass sees it (daemon-reload.ts). */
  private reloadContext(): ReloadContext {
    const self = this;
    return {
      get served() {
        return self.served;
      },
      get stopping() {
        return self.stopping;
      },
      stayalive: this.opts.stayalive,
      spawner: this.spawner,
      services: this.services,
      log: this.log,
      daemon: this.daemon,
      commit: (served, table) => {
        this.served = served;
        this.table = table;
      },
      reloaded: (outcome) => {
        this.observed?.metrics.reloaded(outcome);
        void collectAfterLoading(this.env);
      },
      stop: () => void this.stop(false, 1),
    };
  }

  private removePidfile(): void {
    if (!this.pidfileWritten || this.opts.pidfile === null) return;
    this.pidfileWritten = false;
    try {
      unlinkSync(this.opts.pidfile);
    } catch {
      // already gone
    }
  }

  private async stop(killServers: boolean, code = 0): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const [signal, action] of this.handlers) process.off(signal, action);
    this.reports.stopPeriodic();
    this.stopFdWatch?.();
    if (this.observed !== null) this.observed.serving = false;
    const told = this.signals?.stopping();
    const handle = this.handle;
    if (handle !== null) {
      // Sockets first: a client accepted while the servers are being signalled would start a
      // server that nobody signals and that outlives the daemon. Then the spawns already asked
      // for are answered, so that their servers are known (logged, and signalled with the rest).
      await handle.close();
    }
    // Nothing is served any more: the pid file goes now, not after the slower steps below
    // (draining the helper, closing the logs), which a supervisor need not wait for.
    this.removePidfile();
    if (handle !== null) {
      await this.spawner?.settle?.();
      // The answered spawns' own continuations (START, tracking) run before the servers are signalled.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (killServers) {
        // xinetd's terminate_program: the servers of RPC services get SIGKILL, each with a
        // "Sending signal 9" line, before "Exiting..."; the others SIGTERM (xinetd(8)).
        await killServersOf(this.daemon, handle, new Set(this.served.filter((s) => s.type.includes('RPC')).map((s) => s.id)));
        await handle.killServers('SIGTERM');
      }
    }
    this.daemon('exiting', 'warning', 'Exiting...', 'main');
    await this.spawner?.close();
    await this.observed?.close();
    await told;
    await this.log.close();
    this.removeFatalHandler();
    // Held to the end: every step above is bounded by its own timer, some of them unreferenced,
    // and without it the process could end in the middle of its stop with nothing else pending.
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    this.finish(code);
  }
}

/** How long a stop after an internal error may take before the process just exits. */
const FATAL_STOP_DEADLINE_MS = 10_000;

/** An uncaught error on one log line: its message and the first frames of its stack. */
export function describeFatal(err: unknown, frames = 4): string {
  const oneLine = (text: string): string => text.replace(/\s*[\r\n]+\s*/g, ' ');
  if (!(err instanceof Error)) return `non-error value thrown: ${oneLine(String(err))}`;
  const stack = (err.stack ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l))
    .slice(0, frames)
    .map((l) => l.trim());
  return [`${err.name}: ${oneLine(err.message)}`, ...stack].join(' | ');
}

/** Whether `name` is a syslog facility -syslog accepts (the names of syslog.conf(5)). */
export function isSyslogFacility(name: string): boolean {
  return Object.hasOwn(SYSLOG_FACILITIES, name.toLowerCase());
}

/** Runs the daemon until it is stopped; resolves to the exit status. */
export async function runDaemon(opts: DaemonOptions, deps: DaemonDeps = {}): Promise<number> {
  const env = fromEnv();
  if (opts.readyFd !== null && !env.daemonChild) {
    const problem = checkReadyFd(opts.readyFd);
    if (problem !== null) {
      process.stderr.write(`tsinetd: ${problem}\n`);
      return 1;
    }
  }
  if (!opts.dontfork && !opts.debug && !env.daemonChild) {
    const code = await daemonize();
    // The detached copy serves: the starting process signals --ready-fd for it.
    const problem = code === 0 && opts.readyFd !== null ? signalReadyFd(opts.readyFd) : null;
    if (problem !== null) process.stderr.write(`tsinetd: ${problem}\n`);
    return code;
  }
  const ready = readinessChannel(env);
  // The serving process only: a young generation that stays small (see heap-tuning.ts).
  tuneHeapForDaemon(env);
  // xinetd's own umask: the inherited one ORed with 022, which servers inherit by default.
  const inherited = process.umask(0o022);
  process.umask(daemonUmaskFrom(inherited));
  // An unknown -syslog facility: xinetd logs "Bad syslog facility" and uses daemon.
  const badFacility = opts.syslog !== null && !isSyslogFacility(opts.syslog) ? opts.syslog : null;
  const log = createEventLog({
    filelog: opts.filelog,
    syslog: badFacility === null ? opts.syslog : 'daemon',
    foreground: ready === null,
    format: opts.logFormat,
    debug: opts.debug,
  });
  if (badFacility !== null) log.log(daemonMessage('bad-syslog-facility', 'error', `Bad syslog facility: ${badFacility}`, 'msg_init'));
  const signals = createReadinessSignals({
    // In the detached copy the descriptor number means nothing (the starting process signals).
    readyFd: ready === null ? opts.readyFd : null,
    env: process.env,
    warn: (m) => log.log(daemonMessage('readiness', 'warning', m, 'readiness')),
  });
  return new Daemon(opts, log, ready, deps, signals, env).run();
}
