// The spawn helper process (native/spawnd.c) and its channel: starting it and waiting for its
// "ready" (its protocol version checked), what happens when it dies (relaunched at most once a
// second, sooner when listeners wait for it), and the two ways to send it a request: batched
// plain requests, or one request with a descriptor attached. The spawner (spawn-native.ts) and
// the acceptor (spawnd-acceptor.ts) are built on it; what the messages mean is theirs.

import { spawn as startProcess, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { closeSync, openSync } from 'node:fs';
import * as net from 'node:net';
import type { ChildStdio } from '../spawn-types.js';
import { asError, describeExit, helperStartError, spawnerError } from './spawn-native-errors.js';
import {
  batchMessage,
  batchMessages,
  parseHelperMessage,
  requests,
  type ChildStart,
  type HandleRequest,
  type HelperMessage,
  type PlainRequest,
  type Sized,
} from './spawnd-messages.js';
import { VERSION as HELPER_PROTOCOL_VERSION } from './spawnd-protocol.js';
import { OrderedSender } from './ordered-send.js';
import { rawDescriptorHandle, SEND_OPTIONS, socketHandle, type SendHandle } from '../../sys/uv-handles.js';

const RESTART_INTERVAL_MS = 1000;
export const CLOSE_TIMEOUT_MS = 2000;
/** Requests sent to the helper in one batch at most (batches are also cut at MAX_REQUEST_BYTES). */
const MAX_BATCH = 64;

/** Descriptors starting the helper takes at once (IPC socket pair, exec-error pipe). */
const HELPER_START_FDS = 4;

/** Whether `n` more descriptors can be opened now (each is closed again at once). */
function descriptorsFree(n: number): boolean {
  const opened: number[] = [];
  try {
    for (let i = 0; i < n; i++) opened.push(openSync('/dev/null', 'r'));
    return true;
  } catch {
    return false;
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

export interface HelperProcessOptions {
  helperPath: string;
  readyTimeoutMs: number;
  forkChildren: boolean;
  warn: (message: string) => void;
}

/** What the users of the helper learn from it and tell it. */
export interface HelperEvents {
  /** A message of the running helper (every kind but 'ready' and 'pong', which are the channel's). */
  message(msg: HelperMessage): void;
  /** A started helper is ready: send it what it must know before anything else. */
  attached(helper: ChildProcess): void;
  /** The helper exited (`why`: its status or signal); not called once closed. */
  gone(helper: ChildProcess, why: string): void;
  /** Whether an answer or a child's exit is awaited (the channel then keeps the daemon alive). */
  awaiting(): boolean;
  /** Whether the helper must run even with nothing to start (listeners it accepts on). */
  needed(): boolean;
}

export class HelperProcess {
  private readonly helperPath: string;
  private readonly forkChildren: boolean;
  private readonly readyTimeoutMs: number;
  private readonly warn: (message: string) => void;
  private events: HelperEvents | null = null;
  private childStartMode: ChildStart | null = null;
  private helper: ChildProcess | null = null;
  private starting: Promise<ChildProcess> | null = null;
  private lastFailedStart = -Infinity;
  private nextId = 1;
  private readonly rawHandles = new Map<number, SendHandle>();
  private channelRefd = true;
  private closed = false;
  private relaunchTimer: NodeJS.Timeout | null = null;
  private outbox: Array<{ item: Sized<PlainRequest>; onError: ((err: Error) => void) | undefined }> = [];
  private flushQueued = false;
  private readonly pongWaiters = new Map<number, () => void>();
  private readonly senders = new WeakMap<ChildProcess, OrderedSender>();

  constructor(options: HelperProcessOptions) {
    this.helperPath = options.helperPath;
    this.forkChildren = options.forkChildren;
    this.readyTimeoutMs = options.readyTimeoutMs;
    this.warn = options.warn;
  }

  /** Set once, before the helper is first started. */
  setEvents(events: HelperEvents): void {
    this.events = events;
  }

  /** The running helper, or null. */
  get current(): ChildProcess | null {
    return this.helper;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** How the running helper starts children, as it said when it became ready (null before). */
  get childStart(): ChildStart | null {
    return this.childStartMode;
  }

  /** A request id, unique across every kind of request. */
  newId(): number {
    return this.nextId++;
  }

  /**
   * A request without a descriptor; dropped when no helper runs (its connections died with it).
   * Requests made in one tick leave together, as one batch message (one write instead of one
   * per connection).
   */
  sendPlain(item: Sized<PlainRequest>, onError?: (err: Error) => void): void {
    const helper = this.helper;
    if (helper === null || !helper.connected) {
      onError?.(spawnerError('EPIPE', 'the spawn helper is not running'));
      return;
    }
    this.outbox.push({ item, onError });
    if (this.outbox.length >= MAX_BATCH) this.flushOutbox();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      process.nextTick(() => this.flushOutbox());
    }
  }

  private flushOutbox(): void {
    this.flushQueued = false;
    const items = this.outbox;
    if (items.length === 0) return;
    this.outbox = [];
    const helper = this.helper;
    const fail = (err: Error): void => {
      if (!this.closed && items.some((i) => i.onError === undefined)) this.warn(`spawn helper request not delivered: ${err.message}`);
      for (const i of items) i.onError?.(err);
    };
    if (helper === null || !helper.connected) {
      fail(spawnerError('EPIPE', 'the spawn helper is not running'));
      return;
    }
    // Cut by count and by size: a batch is one line, which the helper reads up to MAX_REQUEST_BYTES.
    for (const list of batchMessages(
      items.map((i) => i.item),
      MAX_BATCH,
    )) {
      try {
        this.post(helper, batchMessage(list), (err) => {
          if (err) fail(err);
        });
      } catch (err) {
        fail(asError(err));
        return;
      }
    }
  }

  /** Sends a request with a descriptor (the daemon keeps its own copy open). */
  sendWithHandle(helper: ChildProcess, request: HandleRequest, handle: SendHandle, callback: (err: Error | null) => void): void {
    this.senderOf(helper).send(request, handle, SEND_OPTIONS, callback);
  }

  /** Sends a message without a descriptor right away, after everything sent to `helper` before it (ordered-send.ts). */
  post(helper: ChildProcess, message: object, callback: (err: Error | null) => void): void {
    this.senderOf(helper).send(message, undefined, undefined, callback);
  }

  private senderOf(helper: ChildProcess): OrderedSender {
    let sender = this.senders.get(helper);
    if (sender === undefined) {
      sender = new OrderedSender(helper);
      this.senders.set(helper, sender);
    }
    return sender;
  }

  /** Resolves once the helper has answered a ping sent after everything before it, or after `ms`. */
  drained(helper: ChildProcess, ms: number): Promise<void> {
    this.flushOutbox();
    if (!helper.connected) return Promise.resolve();
    const id = this.nextId++;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.pongWaiters.delete(id);
        this.updateRef(helper);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.pongWaiters.set(id, done);
      // The pong is awaited: the channel keeps the process alive until it comes (or the timer
      // fires). Unreferenced, a stopping daemon with nothing else left to wait for ended here,
      // before its "Exiting..." line and the rest of its stop.
      this.updateRef(helper);
      try {
        this.post(helper, requests.ping(id).request, (err) => {
          if (err) done();
        });
      } catch {
        done();
      }
    });
  }

  /** What to give child.send() for `stdio`; 'none' without a descriptor, 'busy' when libuv refuses it. */
  sendableHandle(stdio: Exclude<ChildStdio, { accepted: number } | { heldSocket: number }>): SendHandle | 'none' | 'busy' {
    if (stdio instanceof net.Socket) return socketHandle(stdio) ?? 'none';
    if (stdio instanceof net.Server) return stdio.listening ? stdio : 'none';
    if (stdio instanceof dgram.Socket) {
      try {
        stdio.address();
        return stdio;
      } catch {
        return 'none'; // not bound
      }
    }
    if (!Number.isInteger(stdio.fd) || stdio.fd < 0) return 'none';
    let handle = this.rawHandles.get(stdio.fd);
    if (handle === undefined) {
      const opened = rawDescriptorHandle(stdio.fd);
      if (!opened.ok) return opened.why === 'busy' ? 'busy' : 'none';
      // Kept and never closed: closing it would close the caller's descriptor. Only the
      // number matters to libuv when sending, so a later socket on the same number works too.
      this.rawHandles.set(stdio.fd, opened.handle);
      handle = opened.handle;
    }
    return handle;
  }

  /** The running helper, started first when none runs. */
  ensure(): Promise<ChildProcess> {
    if (this.helper !== null) return Promise.resolve(this.helper);
    if (this.starting !== null) return this.starting;
    if (this.closed) return Promise.reject(spawnerError('ECANCELED', 'spawner closed'));
    if (Date.now() - this.lastFailedStart < RESTART_INTERVAL_MS) {
      return Promise.reject(spawnerError('EAGAIN', 'the spawn helper is not running (it failed to start less than a second ago)'));
    }
    this.starting = this.launch().then(
      (helper) => {
        this.starting = null;
        this.helper = helper;
        return helper;
      },
      (err: unknown) => {
        this.starting = null;
        this.lastFailedStart = Date.now();
        throw asError(err);
      },
    );
    return this.starting;
  }

  private launch(): Promise<ChildProcess> {
    return new Promise<ChildProcess>((resolve, reject) => {
      // Node 20 leaks the IPC socket of a child_process.spawn() that fails for lack of
      // descriptors: at the limit, every restart attempt would cost one more. Try first.
      if (!descriptorsFree(HELPER_START_FDS)) {
        reject(spawnerError('EMFILE', `cannot start the spawn helper ${this.helperPath}: too many open files (EMFILE)`));
        return;
      }
      let child: ChildProcess;
      try {
        child = startProcess(this.helperPath, [], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          env: this.forkChildren ? { TSINETD_SPAWND_FORK: '1' } : {},
          serialization: 'json',
        });
      } catch (err) {
        reject(helperStartError(this.helperPath, err));
        return;
      }
      let done = false;
      const finish = (err: Error | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('error', onError);
        child.off('close', onClose);
        if (err === null) {
          this.attach(child);
          resolve(child);
        } else {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          reject(err);
        }
      };
      const onMessage = (raw: unknown) => {
        const msg = parseHelperMessage(raw);
        if (msg?.t !== 'ready') return;
        if (msg.version !== HELPER_PROTOCOL_VERSION) {
          finish(new Error(`the spawn helper speaks protocol ${msg.version}, not ${HELPER_PROTOCOL_VERSION} (rebuild it)`));
        } else {
          this.childStartMode = msg.children;
          finish(null);
        }
      };
      const onError = (err: Error) => finish(helperStartError(this.helperPath, err));
      const onClose = (code: number | null, signal: NodeJS.Signals | null) =>
        finish(new Error(`the spawn helper ${this.helperPath} exited at start (${describeExit(code, signal)})`));
      const timer = setTimeout(() => finish(new Error(`the spawn helper did not become ready within ${this.readyTimeoutMs} ms`)), this.readyTimeoutMs);
      child.on('message', onMessage);
      child.once('error', onError);
      child.once('close', onClose);
    });
  }

  private attach(helper: ChildProcess): void {
    helper.on('message', (raw: unknown) => this.onMessage(raw));
    // e.g. a write to a channel that just closed; 'close' below does the real work
    helper.on('error', (err) => {
      if (!this.closed) this.warn(`spawn helper: ${err.message}`);
    });
    // 'close', not 'exit': it comes after every message the helper sent was delivered.
    helper.once('close', (code: number | null, signal: NodeJS.Signals | null) => this.onHelperGone(helper, code, signal));
    // The helper must not keep the daemon alive by itself; the channel is referenced only
    // while an answer or a child's exit is awaited.
    helper.unref();
    this.channelRefd = true;
    this.updateRef(helper);
    this.events?.attached(helper);
  }

  /** References the channel while an answer or a child's exit is awaited (HelperEvents.awaiting). */
  updateRef(helper: ChildProcess | null = this.helper): void {
    const want = (this.events?.awaiting() ?? false) || this.pongWaiters.size > 0;
    const channel = helper?.channel;
    if (channel === undefined || channel === null || want === this.channelRefd) return;
    this.channelRefd = want;
    if (want) channel.ref();
    else channel.unref();
  }

  private onMessage(raw: unknown): void {
    const msg = parseHelperMessage(raw);
    if (msg === null) {
      this.warn(
        `spawn helper sent an unexpected message: ${(JSON.stringify(raw) as string | undefined)?.slice(0, 200) /* undefined for undefined, whatever the typings say */}`,
      );
      return;
    }
    if (msg.t === 'pong') this.pongWaiters.get(msg.id)?.();
    else if (msg.t !== 'ready') this.events?.message(msg);
  }

  private onHelperGone(helper: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.helper === helper) this.helper = null;
    if (this.closed) return;
    this.events?.gone(helper, describeExit(code, signal));
    // Listening sockets accepted on by the helper would go unserved: start it again soon.
    if (this.events?.needed() === true) this.relaunchSoon();
  }

  /** Starts the helper again in a while (at most once a second) if it is still needed then. */
  relaunchSoon(): void {
    if (this.relaunchTimer !== null || this.closed) return;
    this.relaunchTimer = setTimeout(() => {
      this.relaunchTimer = null;
      if (this.closed || this.helper !== null || this.events?.needed() !== true) return;
      this.ensure().catch((err: unknown) => {
        this.warn(`the spawn helper could not be started again: ${asError(err).message}`);
        this.relaunchSoon();
      });
    }, RESTART_INTERVAL_MS + 50);
    this.relaunchTimer.unref();
  }

  /**
   * Stops the helper once it has handled everything sent so far (its children keep running);
   * `cancel` rejects what is still awaited, once nothing more can be answered.
   */
  async close(cancel: () => void): Promise<void> {
    this.closed = true;
    if (this.relaunchTimer !== null) clearTimeout(this.relaunchTimer);
    this.relaunchTimer = null;
    const helper = this.helper ?? (await this.starting?.catch(() => null)) ?? null;
    if (helper === null || helper.exitCode !== null || helper.signalCode !== null) {
      cancel();
      return;
    }
    helper.ref(); // wait for it even when nothing else keeps the event loop alive
    // Listened for from now on: the helper may die meanwhile (a signal to the whole process
    // group, as tini -g sends), and 'exit' is not emitted twice.
    const exited = new Promise<void>((resolve) => helper.once('exit', () => resolve()));
    // Closing the channel cancels writes still queued in it (kills of a stop among them, when
    // the helper is busy starting servers): first let the helper handle everything sent so
    // far. Spawns it answers meanwhile are started servers, not cancelled ones.
    await Promise.race([this.drained(helper, CLOSE_TIMEOUT_MS), exited]);
    cancel();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the helper may have exited during the await; TypeScript keeps the narrowing from before it
    if (helper.exitCode !== null || helper.signalCode !== null) return;
    // 'exit', not 'close': Node never reports 'close' after a disconnect() of its own.
    const timer = setTimeout(() => helper.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
    // The helper exits on EOF and leaves its children running.
    if (helper.connected) helper.disconnect();
    else helper.kill('SIGTERM');
    await exited;
    clearTimeout(timer);
  }
}
