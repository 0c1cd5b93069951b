// Winston transports for tsinetd's log destinations: an xinetd-style log FILE (append, mode
// 0644, soft/hard size limits, survives a failing disk) and a plain stream (stderr); syslog,
// through one long-lived logger(1) process, is in log-syslog.ts on the same base.
//
// Each transport receives ready-made lines in `info.message` (formatting is log-format.ts's
// job) and never throws or emits 'error': problems are reported once through `onProblem`,
// the lines concerned are dropped and counted, and writing resumes when the cause goes away.
// All writes are asynchronous and batched (line-batch.ts): a file gets the lines of
// FILE_FLUSH_DELAY_MS in one write, the other destinations those of one turn of the event loop.
// A destination that cannot keep up has its backlog capped.

import { createWriteStream, fstat, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import winston from 'winston';
import type TransportStream from 'winston-transport';
import type { Say } from '../message-codes.js';
import { defaultHardLimit } from './log-format.js';
import { LineBatch } from './line-batch.js';
import { openForDaemonWrite } from '../sys/safe-open.js';

// winston's typings name the base class `transport`; at run time it is exported as `Transport`.
export const Transport = (winston as unknown as { Transport: typeof TransportStream }).Transport;

/** What the transports hand to winston: the finished line plus routing details. */
export interface LineInfo {
  level: string;
  message: string;
  /** Syslog PRI (facility * 8 + severity); used by the syslog transport only. */
  pri?: number;
  /** The service whose line this is (named in size-limit messages). */
  serviceId?: string;
}

/** A transport's own trouble, as a daemon message (its code: log-lines-lost or log-size-limit). */
export type ProblemReporter = Say;

/** Above this many buffered bytes a destination is considered stuck and new lines are dropped. */
export const DEFAULT_MAX_BACKLOG = 16 * 1024 * 1024;
/** How long a failed log file waits before the next attempt to reopen it (xinetd's RETRY_INTERVAL). */
export const DEFAULT_RETRY_MS = 5000;

export function errText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export interface FileTransportOptions {
  path: string;
  /** Soft and hard size limits in bytes (log_type = FILE path soft hard); null = none. */
  soft: number | null;
  hard: number | null;
  onProblem: ProblemReporter;
  /** The service named in size-limit messages until a line names another (default: the path). */
  label?: string;
  maxBacklog?: number;
  retryMs?: number;
  /** Clock for the retry delay (tests). */
  nowMs?: () => number;
  /** How long lines are gathered before one write (default FILE_FLUSH_DELAY_MS). */
  flushDelayMs?: number;
}

/**
 * Lines for a file are gathered this long before they are written. A file write goes through
 * libuv's thread pool: waking a pool thread and being woken by it cost the daemon more than the
 * write itself, and at thousands of connections a second writing once per turn of the event
 * loop meant a round trip for every line or two. Gathering 5 ms took the daemon's own CPU time
 * for a logged daytime connection from about 40 to 25 µs (2 cores, 8 clients); a line reaches
 * the file at most 5 ms later, and stop, reload and log rotation write what is waiting first.
 */
export const FILE_FLUSH_DELAY_MS = 5;

/**
 * A log FILE as xinetd keeps one: opened for append (created with mode 0644), size counted from
 * the existing length; one message the first time the soft limit is passed, and at the hard limit
 * one message and no further lines until the file is reopened (SIGHUP, e.g. after rotation).
 * A write error (disk full, file made unwritable) is reported once; lines are dropped and counted
 * until a later reopen attempt succeeds.
 */
export class FileTransport extends Transport {
  readonly path: string;
  private readonly soft: number | null;
  private readonly hard: number | null;
  private readonly onProblem: ProblemReporter;
  private readonly maxBacklog: number;
  private readonly retryMs: number;
  private readonly nowMs: () => number;

  private stream: WriteStream | null = null;
  /** Size of the file when opened; null until fstat has answered (or not a regular file). */
  private baseSize: number | null = null;
  private regular = true;
  /** Bytes handed to the current stream. */
  private written = 0;
  private softWarned = false;
  private hardReached = false;
  /** The service of the latest line: named in size-limit messages. */
  private lastServiceId: string;

  /** Set while the file cannot be written: when to try again, and how many lines were lost. */
  private broken: { retryAt: number; lost: number } | null = null;
  /** Set after a reopen following a failure, until a write is confirmed. */
  private recovering: { lost: number } | null = null;
  private backlogDropped = 0;
  private backlogWarned = false;
  /** Lines accepted (and counted in `written`) that the stream has not been given yet. */
  private readonly batch: LineBatch;

  constructor(opts: FileTransportOptions) {
    super({});
    this.path = opts.path;
    this.soft = opts.soft;
    this.hard = opts.hard ?? (opts.soft !== null ? defaultHardLimit(opts.soft) : null);
    this.onProblem = opts.onProblem;
    this.maxBacklog = opts.maxBacklog ?? DEFAULT_MAX_BACKLOG;
    this.retryMs = opts.retryMs ?? DEFAULT_RETRY_MS;
    this.nowMs = opts.nowMs ?? Date.now;
    this.lastServiceId = opts.label ?? '';
    this.batch = new LineBatch((text) => this.writeBatch(text), opts.flushDelayMs ?? FILE_FLUSH_DELAY_MS);
  }

  /** Opens (creates) the file now rather than at the first line, as xinetd does at start-up. */
  open(): void {
    if (this.stream === null && this.broken === null) this.openStream();
  }

  private openStream(): void {
    // A high-water mark no larger than the cap, so that hitting the cap always ends in 'drain'.
    const highWaterMark = Math.min(this.maxBacklog, 64 * 1024);
    // Opened here, never through a symlink or a file planted in a shared directory (safe-open.ts).
    const opened = openForDaemonWrite(this.path, { append: true, mode: 0o644 });
    if (!opened.ok) {
      this.stream = null;
      this.markBroken(opened.reason);
      return;
    }
    const stream = createWriteStream(this.path, { fd: opened.fd, highWaterMark });
    this.stream = stream;
    this.baseSize = null;
    this.regular = true;
    this.written = 0;
    this.softWarned = false;
    this.hardReached = false;
    fstat(opened.fd, (err, st) => {
      if (this.stream !== stream) return;
      if (err !== null || !st.isFile()) {
        this.regular = false; // a pipe or device: no size to limit
        return;
      }
      this.baseSize = st.size;
      this.checkLimits();
    });
    stream.on('error', (err) => this.fail(stream, err));
    stream.on('drain', () => this.drained());
  }

  private fail(stream: WriteStream, err: unknown): void {
    if (this.stream !== stream) return;
    this.stream = null;
    // Lines already accepted for a stream that failed are gone, as if written to it.
    this.batch.discard();
    stream.destroy();
    this.markBroken(errText(err));
  }

  /** The file cannot be written (open refused or write failed): one message per episode. */
  private markBroken(reason: string): void {
    const retryAt = this.nowMs() + this.retryMs;
    if (this.recovering !== null) {
      // The reopen did not last: same episode, no second message.
      this.broken = { retryAt, lost: this.recovering.lost };
      this.recovering = null;
      return;
    }
    if (this.broken !== null) {
      this.broken.retryAt = retryAt;
      return;
    }
    this.broken = { retryAt, lost: 0 };
    this.onProblem('log-lines-lost', 'error', `cannot write log file ${this.path}: ${reason}; its lines are dropped until it can be written again`);
  }

  private drained(): void {
    if (this.backlogDropped > 0) {
      this.onProblem('log-lines-lost', 'warning', `log file ${this.path} was too slow: ${plural(this.backlogDropped, 'line')} dropped`);
      this.backlogDropped = 0;
    }
    this.backlogWarned = false;
  }

  private size(): number | null {
    return this.baseSize === null ? null : this.baseSize + this.written;
  }

  private checkLimits(): void {
    const size = this.size();
    if (size === null || !this.regular) return;
    const who = this.lastServiceId === '' ? this.path : this.lastServiceId;
    if (this.soft !== null && !this.softWarned && size > this.soft) {
      this.softWarned = true;
      this.onProblem('log-size-limit', 'warning', `Size of ${who} log exceeded soft limit`);
    }
    if (this.hard !== null && !this.hardReached && size > this.hard) {
      this.hardReached = true;
      this.onProblem('log-size-limit', 'error', `Size of ${who} log exceeded hard limit`);
    }
  }

  override log(info: LineInfo, next: () => void): void {
    this.writeLine(info.message + '\n', info.serviceId ?? '');
    next();
  }

  /** Writes one line (with its newline); never throws. */
  writeLine(line: string, serviceId = ''): void {
    if (this.broken !== null) {
      if (this.nowMs() < this.broken.retryAt) {
        this.broken.lost++;
        return;
      }
      this.recovering = { lost: this.broken.lost };
      this.broken = null;
      this.openStream();
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the openStream() above may have marked the file broken; TypeScript does not follow a method's effect on `this`
    if (this.stream === null && this.broken === null) this.openStream();
    const stream = this.stream;
    // The open was refused or failed: as with a write error, the line that met it is not counted.
    if (stream === null) return;
    if (this.hardReached) return;
    if (stream.writableLength + this.batch.pendingBytes > this.maxBacklog) {
      this.backlogDropped++;
      if (!this.backlogWarned) {
        this.backlogWarned = true;
        this.onProblem('log-lines-lost', 'warning', `log file ${this.path} cannot keep up; lines are dropped until it catches up`);
      }
      return;
    }
    if (serviceId !== '') this.lastServiceId = serviceId;
    const bytes = Buffer.byteLength(line);
    this.written += bytes;
    this.batch.add(line, bytes);
    this.checkLimits();
  }

  private writeBatch(text: string): void {
    const stream = this.stream;
    if (stream === null) return;
    stream.write(text, (err) => {
      if (err == null && this.recovering !== null && this.stream === stream) {
        const lost = this.recovering.lost;
        this.recovering = null;
        this.onProblem('log-lines-lost', 'notice', `log file ${this.path} is writable again; ${plural(lost, 'line')} lost`);
      }
    });
  }

  /** Closes and reopens the file (log rotation); limits start again from the new file's size. */
  reopen(): Promise<void> {
    this.batch.flush();
    const old = this.stream;
    this.stream = null;
    this.broken = null;
    this.recovering = null;
    const done = old === null ? Promise.resolve() : endStream(old);
    this.openStream();
    return done;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.batch.flush();
    const s = this.stream;
    this.stream = null;
    if (s === null) {
      callback();
      return;
    }
    void endStream(s).then(() => callback()); // endStream never rejects
  }
}

/** Ends a write stream and resolves once its data is flushed and the fd closed (or it failed). */
function endStream(s: WriteStream, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed || s.closed) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      s.destroy();
      resolve();
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      resolve();
    };
    s.once('close', finish);
    s.once('error', finish);
    s.end();
  });
}

/** Lines to an already open stream (stderr/stdout): no limits, write errors ignored. */
export class LineStreamTransport extends Transport {
  private readonly out: Writable;
  private readonly batch = new LineBatch((text) => this.writeBatch(text));

  constructor(out: Writable) {
    super({});
    this.out = out;
    // A closed stderr (EPIPE) must not become an uncaught exception.
    if (out.listenerCount('error') === 0) out.on('error', () => {});
  }

  override log(info: LineInfo, next: () => void): void {
    this.writeLine(info.message + '\n');
    next();
  }

  writeLine(line: string): void {
    if (this.out.destroyed || this.out.writableLength + this.batch.pendingBytes > DEFAULT_MAX_BACKLOG) return;
    this.batch.add(line, line.length);
  }

  private writeBatch(text: string): void {
    if (this.out.destroyed) return;
    try {
      this.out.write(text);
    } catch {
      // stream closed underneath us
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.batch.flush();
    if (this.out.writableLength === 0 || this.out.destroyed) {
      callback();
      return;
    }
    const timer = setTimeout(() => callback(), 2000);
    this.out.write('', () => {
      clearTimeout(timer);
      callback();
    });
  }
}
