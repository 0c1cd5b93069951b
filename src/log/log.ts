// The event log: routes LogEvents to their destinations through winston.
//
// Service events go where the service's `log_type` says (nothing when it has none, like
// xinetd); daemon messages go to -filelog FILE and/or -syslog FACILITY, else to stderr in the
// foreground, else to syslog facility daemon (xinetd's default). In debug mode (-d) daemon
// messages, debug ones included, go to stderr only, as xinetd sends them to its terminal.
// Lines are formatted by log-format.ts (xinetd text or JSON); each destination is a winston
// logger with one transport from log-transports.ts. Logging never throws and never blocks.

import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import winston from 'winston';
import {
  DEFAULT_IDENT,
  formatDaemon,
  formatJson,
  formatServiceLine,
  serviceBody,
  syslogPriority,
  type DaemonEvent,
  type DaemonStyle,
  type ServiceEvent,
} from './log-format.js';
import { SyslogTransport } from './log-syslog.js';
import { FileTransport, LineStreamTransport, type LineInfo } from './log-transports.js';
import type { EventLog, LogEvent } from './log-types.js';
import { daemonMessage, type MessageCode, type MessageLevel } from '../message-codes.js';
import { fromEnv, type LogFormat } from '../app/options.js';
import type { LogTarget, Service } from '../table.js';
import { muxClient } from '../service-kind.js';

export interface EventLogOptions {
  /** -filelog FILE: daemon messages to this file. */
  filelog: string | null;
  /** -syslog FACILITY: daemon messages to syslog with this facility. */
  syslog: string | null;
  /** Running in the foreground: daemon messages default to stderr instead of syslog. */
  foreground: boolean;
  format: LogFormat;
  /** -d: daemon messages (debug ones too) to stderr only. */
  debug: boolean;
  /** The pid written in daemon lines and syslog headers (default: this process). */
  daemonPid?: number;
  /** Syslog ident and program name in -filelog lines (default $TSINETD_SYSLOG_IDENT or "xinetd"). */
  ident?: string;
  /** The syslog socket (default $TSINETD_SYSLOG_SOCKET or /dev/log). */
  syslogSocket?: string;
  /** The logger(1) program used for syslog (default "logger"). */
  loggerProgram?: string;
  /** Clock (tests). */
  now?: () => Date;
  /** Where "stderr" is (tests). */
  stderr?: Writable;
  /** Where "stdout" is, for `log_type = FILE /dev/stdout` (tests). */
  stdout?: Writable;
}

/** The EventLog plus the operations the daemon needs at start-up and on SIGHUP. */
export interface XinetdEventLog extends EventLog {
  /**
   * Opens (creates) the log files of these services now, as xinetd does when it starts, starts
   * syslog if any of them uses it, and closes service log files no longer used by any of them.
   */
  open(services: readonly Service[]): void;
  /** Closes and reopens every log file (SIGHUP; lets logrotate move the old files away). */
  reopen(): Promise<void>;
}

type SinkKind = 'file' | 'stream' | 'syslog';

interface Sink {
  key: string;
  kind: SinkKind;
  logger: winston.Logger;
  transport: FileTransport | LineStreamTransport | SyslogTransport;
}

/** `FILE /dev/stderr` and friends: written through the process's own stream (opening them fails on sockets). */
const STD_PATHS: Readonly<Record<string, 1 | 2>> = {
  '/dev/stdout': 1,
  '/dev/fd/1': 1,
  '/proc/self/fd/1': 1,
  '/dev/stderr': 2,
  '/dev/fd/2': 2,
  '/proc/self/fd/2': 2,
};

/** winston's syslog level names for the level words xinetd configs use. */
function winstonLevel(level: string): string {
  const l = level.toLowerCase();
  if (l === 'err') return 'error';
  if (l === 'warn') return 'warning';
  if (l === 'panic') return 'emerg';
  return Object.hasOwn(winston.config.syslog.levels, l) ? l : 'info';
}

const passthrough = winston.format((info) => info)();
const noop = (): void => {};

class EventLogImpl implements XinetdEventLog {
  private readonly pid: number;
  private readonly ident: string;
  private readonly socketPath: string;
  private readonly now: () => Date;
  private readonly stderr: Writable;
  private readonly stdout: Writable;
  private readonly sinks = new Map<string, Sink>();
  private readonly sinkOfTarget = new WeakMap<LogTarget, Sink>();
  /** Daemon destinations, with the line shape each one gets. */
  private readonly daemonSinks: Array<{ sink: Sink; style: DaemonStyle }> = [];
  private readonly daemonFacility: string;
  private closed = false;
  private reporting = false;
  private internalErrorShown = false;

  constructor(private readonly opts: EventLogOptions) {
    this.pid = opts.daemonPid ?? process.pid;
    const env = fromEnv();
    this.ident = opts.ident ?? env.syslogIdent ?? DEFAULT_IDENT;
    this.socketPath = opts.syslogSocket ?? env.syslogSocket ?? '/dev/log';
    this.now = opts.now ?? (() => new Date());
    this.stderr = opts.stderr ?? process.stderr;
    this.stdout = opts.stdout ?? process.stdout;
    this.daemonFacility = opts.syslog ?? 'daemon';

    if (opts.debug) {
      this.daemonSinks.push({ sink: this.streamSink(2), style: 'terminal' });
    } else {
      if (opts.filelog !== null) this.daemonSinks.push({ sink: this.fileSink(opts.filelog, null, null), style: 'file' });
      if (opts.syslog !== null) this.daemonSinks.push({ sink: this.syslogSink(), style: 'syslog' });
      if (this.daemonSinks.length === 0) {
        if (opts.foreground) this.daemonSinks.push({ sink: this.streamSink(2), style: 'terminal' });
        else this.daemonSinks.push({ sink: this.syslogSink(), style: 'syslog' });
      }
    }
    for (const d of this.daemonSinks) if (d.sink.transport instanceof FileTransport) d.sink.transport.open();
  }

  // ---- sinks -------------------------------------------------------------------------------

  private addSink(key: string, kind: SinkKind, transport: Sink['transport']): Sink {
    const logger = winston.createLogger({
      levels: winston.config.syslog.levels,
      level: 'debug',
      format: passthrough,
      // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- our transports extend winston's Transport, which is TransportStream at run time (log-transports.ts): the rule cannot see through the typing of that export
      transports: [transport],
      exitOnError: false,
    });
    // Transports report their own problems; nothing may reach an unhandled 'error'.
    logger.on('error', () => {});
    const sink: Sink = { key, kind, logger, transport };
    this.sinks.set(key, sink);
    return sink;
  }

  private streamSink(fd: 1 | 2): Sink {
    const key = `fd:${fd}`;
    return this.sinks.get(key) ?? this.addSink(key, 'stream', new LineStreamTransport(fd === 1 ? this.stdout : this.stderr));
  }

  private fileSink(path: string, soft: number | null, hard: number | null, label = ''): Sink {
    const std = Object.hasOwn(STD_PATHS, path) ? STD_PATHS[path] : undefined;
    if (std !== undefined) return this.streamSink(std);
    const key = `file:${resolve(path)}`;
    const existing = this.sinks.get(key);
    if (existing !== undefined) return existing;
    const sink: Sink = this.addSink(
      key,
      'file',
      new FileTransport({ path, soft, hard, label, onProblem: (code, level, message) => this.problem(key, code, level, message) }),
    );
    return sink;
  }

  private syslogSink(): Sink {
    const key = 'syslog';
    return (
      this.sinks.get(key) ??
      this.addSink(
        key,
        'syslog',
        new SyslogTransport({
          socketPath: this.socketPath,
          ident: this.ident,
          pid: this.pid,
          ...(this.opts.loggerProgram !== undefined ? { loggerProgram: this.opts.loggerProgram } : {}),
          onProblem: (code, level, message) => this.problem(key, code, level, message),
        }),
      )
    );
  }

  private targetSink(target: LogTarget, serviceId: string): Sink {
    // Remembered per target: finding a file's sink resolves its path, once per line otherwise.
    const known = this.sinkOfTarget.get(target);
    if (known !== undefined && this.sinks.get(known.key) === known) return known;
    const sink = target.kind === 'file' ? this.fileSink(target.path, target.soft, target.hard, serviceId) : this.syslogSink();
    this.sinkOfTarget.set(target, sink);
    return sink;
  }

  // ---- writing -----------------------------------------------------------------------------

  private emit(sink: Sink, info: LineInfo): void {
    // Straight to the transport: winston's stream pipeline would add a few object-mode stream
    // steps per line (measured: about 5% of the daemon's CPU per spawned server). The logger
    // stays the transport's owner for end() and flushing.
    sink.transport.log(info, noop);
  }

  private writeDaemon(e: DaemonEvent, now: Date, skipKey: string | null): void {
    if (e.level === 'debug' && !this.opts.debug) return;
    for (const { sink, style } of this.daemonSinks) {
      if (sink.key === skipKey) continue;
      this.emit(sink, {
        level: e.level,
        message: this.opts.format === 'json' ? formatJson(e, now, this.pid) : formatDaemon(e, now, { style, pid: this.pid, ident: this.ident }),
        pri: syslogPriority(this.daemonFacility, e.level),
      });
    }
  }

  private writeService(e: ServiceEvent, now: Date): void {
    const target = e.service.log_type;
    if (target === null) return;
    const sink = this.targetSink(target, e.service.id);
    let text: string | null;
    if (this.opts.format === 'json') text = formatJson(e, now, this.pid);
    else text = sink.kind === 'syslog' ? serviceBody(e) : formatServiceLine(e, now);
    if (text === null) return;
    const syslog = target.kind === 'syslog';
    this.emit(
      sink,
      syslog
        ? { level: winstonLevel(target.level), message: text, pri: syslogPriority(target.facility, target.level), serviceId: e.service.id }
        : { level: 'info', message: text, serviceId: e.service.id },
    );
  }

  /** A transport's own trouble, as a daemon message (to stderr when the daemon log itself is the trouble). */
  private problem<C extends MessageCode>(originKey: string, code: C, level: MessageLevel<C>, message: string): void {
    if (this.reporting || this.closed) return;
    this.reporting = true;
    try {
      const e: DaemonEvent = daemonMessage(code, level, message, 'log');
      const now = this.now();
      this.writeDaemon(e, now, originKey);
      const daemonHitItself = this.daemonSinks.some((d) => d.sink.key === originKey);
      const stderrIsDaemon = this.daemonSinks.some((d) => d.sink.key === 'fd:2');
      if (daemonHitItself && !stderrIsDaemon) {
        const line = this.opts.format === 'json' ? formatJson(e, now, this.pid) : formatDaemon(e, now, { style: 'terminal', pid: this.pid });
        const stderr = this.streamSink(2).transport;
        if (stderr instanceof LineStreamTransport) stderr.writeLine(line + '\n');
      }
    } finally {
      this.reporting = false;
    }
  }

  log(event: LogEvent): void {
    if (this.closed) return;
    try {
      const now = this.now();
      if (event.kind === 'daemon') this.writeDaemon(event, now, null);
      else this.writeService(event, now);
    } catch (err) {
      if (!this.internalErrorShown) {
        this.internalErrorShown = true;
        try {
          this.stderr.write(`tsinetd: internal logging error: ${err instanceof Error ? err.message : String(err)}\n`);
        } catch {
          // nothing left to tell
        }
      }
    }
  }

  open(services: readonly Service[]): void {
    if (this.closed) return;
    const wanted = new Set<string>(this.daemonSinks.map((d) => d.sink.key));
    for (const s of services) {
      // A TCPMUX service's clients are logged by tcpmux: xinetd never opens its own log.
      if (s.log_type === null || muxClient(s) !== null) continue;
      const sink = this.targetSink(s.log_type, s.id);
      wanted.add(sink.key);
      if (sink.transport instanceof FileTransport || sink.transport instanceof SyslogTransport) sink.transport.open();
    }
    for (const sink of [...this.sinks.values()]) {
      if (sink.kind === 'file' && !wanted.has(sink.key)) {
        this.sinks.delete(sink.key);
        void endLogger(sink.logger);
      }
    }
  }

  async reopen(): Promise<void> {
    const files = [...this.sinks.values()].map((s) => s.transport).filter((t): t is FileTransport => t instanceof FileTransport);
    await Promise.all(files.map((t) => t.reopen()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.sinks.values()];
    this.sinks.clear();
    await Promise.all(all.map((s) => endLogger(s.logger)));
  }
}

/** Ends a winston logger and waits until its transport has flushed (bounded). */
function endLogger(logger: winston.Logger, timeoutMs = 6000): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(done, timeoutMs);
    timer.unref();
    logger.once('finish', () => {
      clearTimeout(timer);
      done();
    });
    logger.end();
  });
}

/** Creates the event log for one daemon run (see EventLogOptions). */
export function createEventLog(opts: EventLogOptions): XinetdEventLog {
  return new EventLogImpl(opts);
}

export { suppressedEvent } from './log-format.js';
