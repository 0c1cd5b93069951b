// The syslog destination: one long-lived logger(1) process that writes the classic local
// format to the syslog socket (Node has no unix datagram sockets). Like the other transports
// (log-transports.ts), it never throws: problems are reported once through `onProblem`, the
// lines concerned are dropped and counted, and writing resumes when logger(1) is back.

import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { stat } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { LineBatch } from './line-batch.js';
import { DEFAULT_MAX_BACKLOG, errText, plural, Transport, type LineInfo, type ProblemReporter } from './log-transports.js';

export interface SyslogTransportOptions {
  /** The syslog socket (normally /dev/log). */
  socketPath: string;
  /** Program name in the syslog header. */
  ident: string;
  /** Process id in the syslog header ("xinetd[PID]:"). */
  pid: number;
  onProblem: ProblemReporter;
  /** The logger(1) program (util-linux). */
  loggerProgram?: string;
  maxBacklog?: number;
  nowMs?: () => number;
}

/** How long to wait before restarting a logger(1) that died or could not be started. */
const LOGGER_RESTART_MS = 10_000;

/**
 * Syslog through one long-lived util-linux logger(1) process: Node has no unix datagram sockets.
 * Lines go to its stdin prefixed with their priority (`--prio-prefix`), so one process serves
 * every facility and level; logger writes the classic local format
 * "<PRI>Mmm dd hh:mm:ss xinetd[PID]: text" to the socket and reconnects by itself when the
 * syslog daemon restarts.
 */
export class SyslogTransport extends Transport {
  private readonly opts: Required<Omit<SyslogTransportOptions, 'onProblem'>> & { onProblem: ProblemReporter };
  private child: ChildProcess | null = null;
  private stdin: Writable | null = null;
  private restartAt = 0;
  private lost = 0;
  private failing = false;
  private closing = false;
  private backlogDropped = 0;
  private socketChecked = false;
  private readonly batch = new LineBatch((text, lines) => this.writeBatch(text, lines));

  constructor(opts: SyslogTransportOptions) {
    super({});
    this.opts = {
      ...opts,
      loggerProgram: opts.loggerProgram ?? 'logger',
      maxBacklog: opts.maxBacklog ?? DEFAULT_MAX_BACKLOG,
      nowMs: opts.nowMs ?? Date.now,
    };
  }

  private checkSocket(): void {
    if (this.socketChecked) return;
    this.socketChecked = true;
    stat(this.opts.socketPath, (err, st) => {
      if (err !== null || !st.isSocket()) {
        this.opts.onProblem(
          'log-lines-lost',
          'warning',
          `syslog socket ${this.opts.socketPath} ${err !== null ? 'does not exist' : 'is not a socket'}: ` +
            'syslog lines are lost until a syslog daemon listens there',
        );
      }
    });
  }

  /** Starts logger(1) now rather than at the first line (spawning blocks the event loop briefly). */
  open(): void {
    this.start();
  }

  /** The pipe to logger(1), started if need be; null while it cannot run. */
  private start(): Writable | null {
    if (this.stdin !== null) return this.stdin;
    if (this.closing || this.opts.nowMs() < this.restartAt) return null;
    this.checkSocket();
    const args = ['--prio-prefix', '-u', this.opts.socketPath, `--id=${this.opts.pid}`, '-t', this.opts.ident];
    let child: ChildProcessByStdio<Writable, null, Readable>;
    try {
      // Own process group: a terminal's Ctrl-C must not kill it before our last lines are out.
      child = spawn(this.opts.loggerProgram, args, { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    } catch (err) {
      this.broken(`cannot run ${this.opts.loggerProgram}(1) for syslog: ${errText(err)}`);
      return null;
    }
    const stdin = child.stdin;
    this.child = child;
    this.stdin = stdin;
    let stderrText = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderrText.length < 500) stderrText += d;
    });
    stdin.on('error', () => {
      // EPIPE when logger died: reported by the 'exit'/'error' handlers below.
    });
    stdin.on('drain', () => {
      if (this.backlogDropped > 0) {
        this.opts.onProblem('log-lines-lost', 'warning', `syslog was too slow: ${plural(this.backlogDropped, 'line')} dropped`);
        this.backlogDropped = 0;
      }
    });
    child.on('spawn', () => {
      if (!this.failing) return;
      // Call it recovered only once the new process has stayed up for a while.
      const t = setTimeout(() => {
        if (this.child !== child || !this.failing) return;
        this.failing = false;
        if (this.lost > 0) this.opts.onProblem('log-lines-lost', 'notice', `syslog is back; ${plural(this.lost, 'line')} lost`);
        this.lost = 0;
      }, LOGGER_RESTART_MS);
      t.unref();
    });
    child.on('error', (err) => {
      if (this.child !== child) return;
      this.detach();
      this.broken(`cannot run ${this.opts.loggerProgram}(1) for syslog: ${errText(err)}`);
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.detach();
      if (this.closing) return;
      const how = signal !== null ? `signal ${signal}` : `status ${code ?? '?'}`;
      const why = stderrText.trim() === '' ? '' : `: ${stderrText.trim().split('\n')[0]}`;
      this.broken(`${this.opts.loggerProgram}(1) for syslog exited with ${how}${why}`);
    });
    return stdin;
  }

  private detach(): void {
    this.child = null;
    this.stdin = null;
  }

  private broken(message: string): void {
    this.restartAt = this.opts.nowMs() + LOGGER_RESTART_MS;
    if (this.failing) return;
    this.failing = true;
    this.opts.onProblem('log-lines-lost', 'error', `${message}; syslog lines are dropped, retrying in ${LOGGER_RESTART_MS / 1000} s`);
  }

  override log(info: LineInfo, next: () => void): void {
    this.writeLine(info.pri ?? 30, info.message);
    next();
  }

  /** Sends one message at the given PRI; never throws. */
  writeLine(pri: number, message: string): void {
    const stdin = this.start();
    if (stdin === null) {
      this.lost++;
      return;
    }
    if (stdin.writableLength + this.batch.pendingBytes > this.opts.maxBacklog) {
      this.backlogDropped++;
      return;
    }
    const line = `<${pri}>${message.replace(/\n/g, ' ')}\n`;
    this.batch.add(line, Buffer.byteLength(line));
  }

  private writeBatch(text: string, lines: number): void {
    const stdin = this.stdin;
    if (stdin === null) {
      this.lost += lines; // logger(1) went away since these lines were accepted
      return;
    }
    stdin.write(text);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.batch.flush();
    this.closing = true;
    const child = this.child;
    const stdin = this.stdin;
    if (child === null || stdin === null) {
      callback();
      return;
    }
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
    }, 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      this.detach();
      callback();
    });
    stdin.end();
  }
}
