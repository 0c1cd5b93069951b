// The daemon: composition root. Loads the configuration, starts the server (server.ts), writes
// the pid file, logs "Started working: N available services" once every socket is bound (the
// readiness signal), and handles xinetd's signals:
//   SIGTERM, SIGINT  stop: "Exiting...", running servers get SIGTERM (xinetd(8)), sockets are
//                    closed, the pid file is removed, exit status 0;
//   SIGQUIT          stop without signalling running servers;
//   SIGUSR1          append a text dump of the service table to the dump file;
//   SIGHUP, SIGUSR2  re-read the configuration and reconcile the sockets (see reload()).
// Without -dontfork (and without -d) it daemonizes like xinetd: Node cannot fork(), so it starts
// itself again, detached (setsid) with stdio closed, and the first process exits 0 once the
// second reports that it is serving, or 1 with the second's start-up error.

import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { AdmissionController } from './admission.js';
import { daemonUmaskFrom } from './child-env.js';
import { loadConfig, type LoadRequest } from './config.js';
import { formatDiagnostic, type Diagnostic } from './diagnostics.js';
import { formatServiceDump } from './dump.js';
import { servingLimitations } from './listeners.js';
import { createEventLog, type XinetdEventLog } from './log.js';
import type { DaemonLevel } from './log-types.js';
import type { DaemonOptions } from './options.js';
import { servableServices, startServer, type ServerHandle } from './server.js';
import { createSpawner, unsupportedBySpawner } from './spawner.js';
import type { Spawner } from './spawn-types.js';
import type { Service, ServiceTable } from './table.js';
import type { AclProblem } from './acl.js';
import { VERSION } from './version.js';

/** Set in the environment of the detached copy started by daemonize(); removed at once. */
export const DAEMON_CHILD_ENV = 'TSINETD_DAEMON_CHILD';
/** The descriptor on which the detached copy reports "ready" or "error MESSAGE". */
const READY_FD = 3;

interface Readiness {
  ok(): void;
  fail(message: string): void;
}

function readinessChannel(): Readiness | null {
  if (process.env[DAEMON_CHILD_ENV] !== '1') return null;
  delete process.env[DAEMON_CHILD_ENV];
  let sent = false;
  const send = (line: string): void => {
    if (sent) return;
    sent = true;
    try {
      writeSync(READY_FD, line.replace(/\n/g, ' ') + '\n');
    } catch {
      // the starting process is gone; nothing to tell
    }
    try {
      closeSync(READY_FD);
    } catch {
      // already closed
    }
  };
  return { ok: () => send('ready'), fail: (message) => send(`error ${message}`) };
}

/** Starts a detached copy of this command and waits until it serves (0) or fails (1). */
function daemonize(): Promise<number> {
  return new Promise<number>((resolve) => {
    const script = process.argv[1];
    if (script === undefined) {
      process.stderr.write('tsinetd: cannot daemonize: unknown script path\n');
      resolve(1);
      return;
    }
    const child = spawn(process.execPath, [...process.execArgv, script, ...process.argv.slice(2)], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: { ...process.env, [DAEMON_CHILD_ENV]: '1' },
    });
    let settled = false;
    let text = '';
    const settle = (code: number, message?: string): void => {
      if (settled) return;
      settled = true;
      if (message !== undefined) process.stderr.write(`tsinetd: ${message}\n`);
      channel?.destroy();
      child.unref();
      resolve(code);
    };
    const channel = child.stdio[READY_FD] as NodeJS.ReadableStream & { destroy(): void } | null | undefined;
    channel?.setEncoding('utf8');
    channel?.on('data', (chunk: string) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      const line = text.slice(0, nl);
      if (line === 'ready') settle(0);
      else settle(1, line.startsWith('error ') ? line.slice(6) : `unexpected start-up report: ${line}`);
    });
    channel?.on('error', () => {});
    child.once('error', (err) => settle(1, `cannot start the daemon: ${err.message}`));
    child.once('exit', (code, signal) => {
      settle(1, `the daemon stopped during start-up (${signal !== null ? `signal ${signal}` : `status ${code}`})`);
    });
  });
}

function inetdFiles(opts: DaemonOptions): string[] {
  return opts.inetdCompat ? [...opts.inetdFiles, '/etc/inetd.conf'] : [...opts.inetdFiles];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function diagnosticLevel(d: Diagnostic): DaemonLevel {
  return d.severity === 'error' ? 'error' : d.severity === 'warning' ? 'warning' : 'info';
}

/** What runDaemon can be given instead of its defaults (tests, embedding). */
export interface DaemonDeps {
  /** Loads the service table (default: loadConfig, i.e. the xinetd and inetd files). */
  loadTable?: (req: LoadRequest) => Promise<ServiceTable>;
}

class Daemon {
  private table: ServiceTable = { services: [], diagnostics: [], files: [] };
  private handle: ServerHandle | null = null;
  private readonly admission: AdmissionController;
  private spawner: Spawner | null = null;
  private stopping = false;
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;
  private pidfileWritten = false;
  private finish: (code: number) => void = () => {};
  /** Keeps the process running while nothing else would (no socket left: -stayalive). */
  private keepAlive: NodeJS.Timeout | null = null;
  private readonly handlers: Array<[NodeJS.Signals, () => void]> = [];

  constructor(
    private readonly opts: DaemonOptions,
    private readonly log: XinetdEventLog,
    private readonly ready: Readiness | null,
    private readonly deps: DaemonDeps,
  ) {
    this.admission = new AdmissionController({ processLimit: opts.limit });
  }

  private daemon(level: DaemonLevel, text: string, func?: string): void {
    this.log.log(func === undefined ? { kind: 'daemon', level, message: text } : { kind: 'daemon', level, message: text, func });
  }

  private async load(): Promise<ServiceTable> {
    const load = this.deps.loadTable ?? loadConfig;
    const table = await load({ configFile: this.opts.configFile, inetdFiles: inetdFiles(this.opts) });
    for (const d of table.diagnostics) this.daemon(diagnosticLevel(d), formatDiagnostic(d), 'parse');
    for (const s of table.services) {
      if (s.enabled && s.problems.length > 0) {
        this.daemon('error', `service ${s.id} is not started: ${s.problems.join('; ')}`, 'svc_activate');
      }
    }
    return table;
  }

  /**
   * The services to serve: resolves and compiles their access lists (names resolved now, as
   * xinetd does at load), logs the problems, and leaves out services xinetd would disable.
   */
  private async prepare(table: ServiceTable): Promise<Service[]> {
    const services = servableServices(table);
    let problems: Map<string, AclProblem[]>;
    try {
      problems = await this.admission.prepare(services);
    } catch (err) {
      this.daemon('error', `cannot prepare the access lists: ${message(err)}`, 'access_control');
      return services;
    }
    return services.filter((s) => {
      const list = problems.get(s.id) ?? [];
      for (const p of list) this.daemon(p.severity, `service ${s.id}: ${p.message}`, 'addrlist');
      const fatal = list.find((p) => p.disablesService === true);
      if (fatal !== undefined) this.daemon('error', `service ${s.id} is not started: ${fatal.message}`, 'svc_activate');
      return fatal === undefined;
    });
  }

  /** Warns about what the configuration asks that this run cannot do. */
  private warnLimitations(table: ServiceTable, spawner: Spawner): void {
    for (const s of servableServices(table)) {
      const limits = [...unsupportedBySpawner(s, spawner.capabilities, spawner.name), ...servingLimitations(s)];
      for (const l of limits) this.daemon('warning', `service ${s.id}: ${l}`, 'svc_activate');
    }
  }

  async run(): Promise<number> {
    let table: ServiceTable;
    try {
      table = await this.load();
    } catch (err) {
      return this.abort(`cannot load the configuration: ${message(err)}`);
    }
    this.table = table;
    let spawner: Spawner;
    try {
      spawner = await createSpawner({ onWarning: (m) => this.daemon('warning', m, 'spawner') });
    } catch (err) {
      return this.abort(`cannot start servers: ${message(err)}`);
    }
    this.spawner = spawner;
    this.warnLimitations(table, spawner);
    const services = await this.prepare(table);
    this.log.open(services);
    this.daemon('notice', `tsinetd ${VERSION} started with the ${spawner.name} spawner`);

    let handle: ServerHandle;
    try {
      handle = await startServer(services, { log: this.log, spawner, admission: this.admission });
    } catch (err) {
      return this.abort(`cannot start serving: ${message(err)}`);
    }
    this.handle = handle;
    if (handle.available === 0 && !this.opts.stayalive) {
      await handle.close();
      return this.abort('no services. Exiting...', 'init_services');
    }

    const done = new Promise<number>((resolve) => {
      this.finish = resolve;
    });
    this.keepAlive = setInterval(() => {}, 1 << 30);
    this.installSignals();
    if (this.opts.pidfile !== null) {
      try {
        writeFileSync(this.opts.pidfile, `${process.pid}\n`);
        this.pidfileWritten = true;
      } catch (err) {
        this.daemon('error', `cannot write the pid file ${this.opts.pidfile}: ${message(err)}`, 'main');
      }
    }
    const n = handle.available;
    this.daemon('notice', `Started working: ${n} available service${n === 1 ? '' : 's'}`, 'main');
    this.ready?.ok();
    return done;
  }

  private async abort(text: string, func = 'main'): Promise<number> {
    this.daemon('error', text, func);
    this.ready?.fail(text);
    // In the foreground the daemon log may already be stderr; say it there once in any case.
    const logOnStderr = this.opts.debug || (this.opts.filelog === null && this.opts.syslog === null);
    if (this.ready === null && !logOnStderr) process.stderr.write(`tsinetd: ${text}\n`);
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
    on('SIGUSR1', () => this.dump());
    on('SIGHUP', () => void this.reload());
    on('SIGUSR2', () => void this.reload());
  }

  private dump(): void {
    const handle = this.handle;
    if (handle === null) return;
    const file = this.opts.dumpFile;
    try {
      const text = formatServiceDump(this.table, new Date(), { runningServers: (s) => handle.runningServers(s) });
      appendFileSync(file, text, { mode: 0o644 });
      this.daemon('info', `generated state dump in file ${file}`, 'dump_internal_state');
    } catch (err) {
      this.daemon('error', `cannot write the state dump to ${file}: ${message(err)}`, 'dump_internal_state');
    }
  }

  /**
   * SIGHUP: re-reads the configuration and reconciles the sockets (unchanged services keep
   * theirs; running servers are left alone).
   * TODO(reload): xinetd also terminates the servers of removed services and re-checks the
   * running ones against the new access rules; the reload issue decides how far to follow it.
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
        this.daemon('notice', 'Starting reconfiguration', 'hard_reconfig');
        try {
          const next = await this.load();
          if (this.stopping) return;
          if (this.spawner !== null) this.warnLimitations(next, this.spawner);
          const services = await this.prepare(next);
          await this.log.reopen();
          this.log.open(services);
          const r = await handle.reload(services);
          this.table = next;
          this.daemon('notice', `Reconfigured: new=${r.added} old=${r.kept} dropped=${r.dropped} (services)`, 'hard_reconfig');
        } catch (err) {
          this.daemon('error', `reconfiguration failed, the previous configuration stays: ${message(err)}`, 'hard_reconfig');
        }
      } while (this.reloadAgain && !this.stopping);
    })().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async stop(killServers: boolean): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.daemon('warning', 'Exiting...', 'main');
    for (const [signal, action] of this.handlers) process.off(signal, action);
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    const handle = this.handle;
    if (handle !== null) {
      if (killServers) await handle.killServers('SIGTERM');
      await handle.close();
    }
    await this.spawner?.close();
    if (this.pidfileWritten && this.opts.pidfile !== null) {
      try {
        unlinkSync(this.opts.pidfile);
      } catch {
        // already gone
      }
    }
    await this.log.close();
    this.finish(0);
  }
}

/** Runs the daemon until it is stopped; resolves to the exit status. */
export async function runDaemon(opts: DaemonOptions, deps: DaemonDeps = {}): Promise<number> {
  if (!opts.dontfork && !opts.debug && process.env[DAEMON_CHILD_ENV] !== '1') return daemonize();
  const ready = readinessChannel();
  // xinetd's own umask: the inherited one ORed with 022, which servers inherit by default.
  const inherited = process.umask(0o022);
  process.umask(daemonUmaskFrom(inherited));
  const log = createEventLog({
    filelog: opts.filelog,
    syslog: opts.syslog,
    foreground: ready === null,
    format: opts.logFormat,
    debug: opts.debug,
  });
  return new Daemon(opts, log, ready, deps).run();
}
