// The native spawner: servers are started by tsinetd-spawnd (native/spawnd.c), a small C
// helper process started once and kept for the daemon's life.
//
// Why: child_process.spawn forks the whole 45-70 MB daemon and blocks the event loop until
// the child has exec'd (about 1.1 ms of daemon CPU per connection), and it cannot set
// supplementary groups or rlimits. The helper is about 1 MB, so its fork is cheap, it never
// waits for the exec, and it does the full xinetd child set-up (see native/child.c).
//
// Transport: Node's own IPC channel ('ipc' stdio, JSON lines; every message, the descriptors'
// owners and the version rule are in native/PROTOCOL.md, the messages' types and their one
// encoder in spawnd-messages.ts, the shared constants in spawnd-protocol.ts, and the handles
// sent with the descriptors in uv-handles.ts). Each spawn is one message
// with the socket attached (SCM_RIGHTS); the helper acknowledges the handle at once, forks,
// and answers {"t":"spawned"} once the program is exec'd, or {"t":"error"} with the failing
// step and errno; later {"t":"exit"} reports the status. spawn() settles only on that answer,
// so by then the helper holds its own copy of the descriptor and the caller may destroy its
// socket (descriptors in flight are also referenced by the kernel, so even a helper crash
// cannot make that unsafe). A peek ({"cmd":"peek"}, protocol 4) carries the bound socket of a
// wait = yes datagram service the same way; the helper answers {"t":"sender"} with the address
// of the first queued datagram, which it leaves queued (Node has no MSG_PEEK).
//
// If the helper dies: pending spawns are rejected, a warning is given, and the helper is
// started again by the next spawn() (at most one attempt per second; spawns in between are
// rejected). The servers it had started keep running; their exits can no longer be
// collected, so they are polled (kill(pid, 0)) and reported with code and signal null.

import { spawn as startProcess, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { closeSync, openSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { constants as osConstants } from 'node:os';
import type {
  AcceptedConnection,
  Acceptor,
  AcceptorEvents,
  ChildStdio,
  ExitInfo,
  RawDescriptor,
  SpawnCapabilities,
  SpawnSpec,
  Spawner,
} from './spawn-types.js';
import type { Peer } from './peer.js';
import type { RlimitValue, Rlimits } from './table.js';
import { describeErrno } from './errno.js';
import {
  batchMessage,
  batchMessages,
  encodeSpawnRequest,
  isKnownStage,
  parseHelperMessage,
  requests,
  type ChildStart,
  type HandleRequest,
  type PlainRequest,
  type Sized,
  type SpawnRequest,
} from './spawnd-messages.js';
import { VERSION as HELPER_PROTOCOL_VERSION } from './spawnd-protocol.js';
import { rawDescriptorHandle, SEND_OPTIONS, socketHandle, type SendHandle } from './uv-handles.js';

const RESTART_INTERVAL_MS = 1000;
const ORPHAN_POLL_MS = 500;
const CLOSE_TIMEOUT_MS = 2000;
/** Requests sent to the helper in one batch at most (batches are also cut at MAX_REQUEST_BYTES). */
const MAX_BATCH = 64;

export const NATIVE_SPAWNER_CAPABILITIES: SpawnCapabilities = {
  uidGid: true,
  groups: true,
  umask: true,
  nice: true,
  rlimits: true,
  peekSender: true,
};

// ---- protocol (pure; the messages themselves are in spawnd-messages.ts) ---------------------

/** A signal name or number as a number; null when unknown. */
export function signalNumber(signal: NodeJS.Signals | number): number | null {
  if (typeof signal === 'number') return Number.isInteger(signal) && signal >= 0 && signal < 65 ? signal : null;
  const n = (osConstants.signals as Record<string, number | undefined>)[signal];
  return n === undefined ? null : n;
}

/** The error for a failed spawn: what failed, for which program, and why. */
export class NativeSpawnError extends Error implements NodeJS.ErrnoException {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path: string;
  /** Which step failed: one of STAGES (spawnd-protocol.ts; native/PROTOCOL.md, Errors). */
  readonly stage: string;

  constructor(path: string, stage: string, errno: number, detail: string) {
    const [name, text] = describeErrno(errno);
    super(spawnFailureText(path, stage, name, text, detail));
    this.name = 'NativeSpawnError';
    this.code = name;
    this.errno = -errno;
    this.syscall = stage === 'exec' ? 'execve' : stage;
    this.path = path;
    this.stage = stage;
  }
}

/** The message of a NativeSpawnError (xinetd logs "execv( PATH ) failed: TEXT"). */
export function spawnFailureText(path: string, stage: string, name: string, text: string, detail: string): string {
  // Typed by the table: a stage renamed there fails to compile here.
  switch (isKnownStage(stage) ? stage : null) {
    case 'exec':
      return `cannot exec ${path}: ${text} (${name})`;
    case 'setuid':
    case 'setgid':
    case 'setgroups':
    case 'dup2':
      return `cannot start ${path}: ${stage} failed: ${text} (${name})`;
    case 'fork':
    case 'pipe':
      return `cannot start ${path}: ${stage} failed in the spawn helper: ${text} (${name})`;
    case 'recv':
      return `cannot start ${path}: ${detail || 'the socket did not reach the spawn helper'} (${name})`;
    default:
      return `cannot start ${path}: ${detail || text} (${name})`;
  }
}

export function spawnerError(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}

/** Why the helper could not be started, with the cause's code (EMFILE, EACCES...); ENOENT when it has none. */
function helperStartError(helperPath: string, cause: unknown): NodeJS.ErrnoException {
  const err = asError(cause);
  const code = (err as NodeJS.ErrnoException).code;
  return spawnerError(typeof code === 'string' ? code : 'ENOENT', `cannot start the spawn helper ${helperPath}: ${err.message}`);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

// ---- the helper binary ---------------------------------------------------------------------

/** How long unlisten() waits for the connections accepted before it to be reported (a helper that does not answer is dying). */
const UNLISTEN_DRAIN_MS = 2000;

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

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `status ${String(code)}`;
}

/** Whether pid still runs (a zombie does not: it waits for a parent that is not us). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

// ---- the spawner ---------------------------------------------------------------------------

export interface NativeSpawnerOptions {
  /** The helper binary (helper-binary.ts resolveHelper() chooses it). */
  helperPath: string;
  /** Where problems that are not a spawn's own go (helper death, protocol warnings). */
  onWarning?: (message: string) => void;
  /** How long the helper may take to say it is ready (default 3000 ms). */
  readyTimeoutMs?: number;
  /** false: the helper never accepts for the daemon (TSINETD_HELPER_ACCEPT=0). Default true. */
  accept?: boolean;
  /**
   * true: the helper forks each child instead of starting it with clone(CLONE_VM | CLONE_VFORK)
   * (native/spawnd.c: start_forked, start_shared). Default false.
   */
  forkChildren?: boolean;
}

interface Pending {
  resolve(pid: number): void;
  reject(err: Error): void;
  path: string;
}

export class NativeSpawner implements Spawner {
  readonly name = 'native';
  readonly capabilities: SpawnCapabilities = NATIVE_SPAWNER_CAPABILITIES;
  private readonly helperPath: string;
  private readonly forkChildren: boolean;
  private childStartMode: ChildStart | null = null;
  private readonly warn: (message: string) => void;
  private readonly readyTimeoutMs: number;
  private helper: ChildProcess | null = null;
  private starting: Promise<ChildProcess> | null = null;
  private lastFailedStart = -Infinity;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Sender peeks sent to the helper and not answered yet, by request id. */
  private readonly peeks = new Map<number, { resolve(peer: Peer | null): void; reject(err: Error): void }>();
  /** Children started and not yet reported as exited. */
  private readonly live = new Set<number>();
  /** Live children of a helper that died: polled, since nobody can reap them for us. */
  private readonly orphans = new Set<number>();
  private orphanTimer: NodeJS.Timeout | null = null;
  private readonly handlers: Array<(info: ExitInfo) => void> = [];
  private readonly rawHandles = new Map<number, SendHandle>();
  private channelRefd = true;
  private closed = false;
  /** Listening sockets the helper accepts on, by listener id (sent again to a restarted helper). */
  private readonly listening = new Map<number, number>();
  /** Listeners told not to accept (sent again to a restarted helper). */
  private readonly paused = new Set<number>();
  private acceptorEvents: AcceptorEvents | null = null;
  private relaunchTimer: NodeJS.Timeout | null = null;
  private outbox: Array<{ item: Sized<PlainRequest>; onError: ((err: Error) => void) | undefined }> = [];
  private flushQueued = false;
  private readonly pongWaiters = new Map<number, () => void>();
  /** Accepting in the helper (see spawn-types.ts); null when TSINETD_HELPER_ACCEPT=0. */
  readonly acceptor: Acceptor | null;

  constructor(options: NativeSpawnerOptions) {
    this.helperPath = options.helperPath;
    this.warn = options.onWarning ?? ((message) => process.emitWarning(message, 'TsinetdSpawnWarning'));
    this.readyTimeoutMs = options.readyTimeoutMs ?? 3000;
    this.acceptor = options.accept === false ? null : this.makeAcceptor();
    this.forkChildren = options.forkChildren ?? false;
  }

  /** How the running helper starts children, as it said when it became ready (null before). */
  get childStart(): ChildStart | null {
    return this.childStartMode;
  }

  private makeAcceptor(): Acceptor {
    return {
      listen: (lid, fd) => {
        this.listening.set(lid, fd);
        if (this.helper !== null) this.sendListen(this.helper, lid, fd);
        // A helper being started gets every listener once it is ready (attach()).
        else {
          void this.ensureHelper().catch((err: unknown) => {
            this.warn(`cannot accept for listener ${lid} yet: ${asError(err).message}`);
            this.relaunchSoon();
          });
        }
      },
      unlisten: (lid) => {
        this.paused.delete(lid);
        if (!this.listening.delete(lid)) return Promise.resolve();
        this.sendPlain(requests.unlisten(lid));
        // Requests and replies keep their order: once a ping sent after the unlisten is
        // answered, every connection accepted on lid before it has been reported.
        return this.helper === null ? Promise.resolve() : this.drained(this.helper, UNLISTEN_DRAIN_MS);
      },
      setAccepting: (lid, on) => {
        if (!this.listening.has(lid) || on !== this.paused.has(lid)) return;
        if (on) this.paused.delete(lid);
        else this.paused.add(lid);
        // No helper now: a started one gets the state after the listener (attach()).
        if (this.helper !== null) this.sendPlain(requests.accepting(lid, on));
      },
      setEvents: (events) => {
        this.acceptorEvents = events;
      },
    };
  }

  private sendListen(helper: ChildProcess, lid: number, fd: number): void {
    const handle = this.sendableHandle({ fd });
    if (typeof handle === 'string') {
      this.acceptorEvents?.error(lid, spawnerError(handle === 'busy' ? 'EBUSY' : 'EBADF', `listener ${lid}: the socket cannot be passed to the spawn helper`));
      return;
    }
    try {
      this.sendWithHandle(helper, requests.listen(lid), handle, (err) => {
        if (err) this.warn(`listener ${lid} not passed to the spawn helper: ${err.message}`);
      });
    } catch (err) {
      this.warn(`listener ${lid} not passed to the spawn helper: ${asError(err).message}`);
    }
  }

  /**
   * A request without a descriptor; dropped when no helper runs (its connections died with it).
   * Requests made in one tick leave together, as one batch message (one write instead of one
   * per connection).
   */
  private sendPlain(item: Sized<PlainRequest>, onError?: (err: Error) => void): void {
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
        helper.send(batchMessage(list), (err) => {
          if (err) fail(err);
        });
      } catch (err) {
        fail(asError(err));
        return;
      }
    }
  }

  /** Sends a request with a descriptor (the daemon keeps its own copy open). */
  private sendWithHandle(helper: ChildProcess, request: HandleRequest, handle: SendHandle, callback: (err: Error | null) => void): void {
    // Node's typings list only socket objects; a bare libuv handle is accepted too.
    helper.send(request, handle as net.Socket, SEND_OPTIONS, callback);
  }

  private accepted(cid: number, addr: string, port: number, local: string | null): AcceptedConnection {
    let decided = false;
    const once = (request: Sized<PlainRequest>): void => {
      if (decided) return;
      decided = true;
      this.sendPlain(request);
    };
    return {
      cid,
      peer: { address: addr, port, family: addr.includes(':') ? 'IPv6' : 'IPv4' },
      local,
      // A reply longer than the helper writes is closed unanswered, as the helper would.
      reply: (data) => once(requests.reply(cid, data) ?? requests.drop(cid)),
      drop: () => once(requests.drop(cid)),
    };
  }

  /** Starts the helper now; rejects when it cannot run (missing binary, no answer). */
  start(): Promise<void> {
    return this.ensureHelper().then(() => undefined);
  }

  /** The helper's pid while it runs (diagnostics and tests). */
  get helperPid(): number | null {
    return this.helper?.pid ?? null;
  }

  spawn(spec: SpawnSpec, stdio: ChildStdio): Promise<number> {
    try {
      if (this.closed) return Promise.reject(spawnerError('ECANCELED', 'spawner closed'));
      if ('accepted' in stdio) return this.spawnAccepted(spec, stdio.accepted);
      const handle = this.sendableHandle(stdio);
      if (handle === 'busy') {
        const fd = (stdio as RawDescriptor).fd;
        return Promise.reject(spawnerError('EBUSY', `descriptor ${fd} is watched by the event loop; stop watching it before spawning`));
      }
      if (handle === 'none') return Promise.reject(spawnerError('EBADF', 'the socket to pass has no descriptor'));
      const encoded = encodeSpawnRequest(this.nextId++, spec);
      if (!encoded.ok) return Promise.reject(spawnerError('EINVAL', encoded.error));
      const { request, bytes } = encoded;
      if (this.helper !== null) return this.send(this.helper, { request, bytes }, handle);
      return this.ensureHelper().then((helper) => this.send(helper, { request, bytes }, handle));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  /** A server for a connection the helper holds: no descriptor travels, only its id. */
  private spawnAccepted(spec: SpawnSpec, cid: number): Promise<number> {
    const encoded = encodeSpawnRequest(this.nextId++, spec, cid);
    if (!encoded.ok) return Promise.reject(spawnerError('EINVAL', encoded.error));
    const helper = this.helper;
    // The connection lives in the helper: without that helper it is gone.
    if (helper === null) return Promise.reject(spawnerError('ENOTCONN', 'the spawn helper holding the connection is not running'));
    return this.send(helper, { request: encoded.request, bytes: encoded.bytes }, null);
  }

  /**
   * The sender of the first datagram queued on bound UDP socket `fd` (null: none is queued): the
   * socket travels to the helper as a spawn's does, the helper peeks (MSG_PEEK) and closes its copy.
   */
  peekSender(fd: number): Promise<Peer | null> {
    if (this.closed) return Promise.reject(spawnerError('ECANCELED', 'spawner closed'));
    const handle = this.sendableHandle({ fd });
    if (typeof handle === 'string') {
      return Promise.reject(spawnerError(handle === 'busy' ? 'EBUSY' : 'EBADF', `descriptor ${fd} cannot be passed to the spawn helper`));
    }
    const id = this.nextId++;
    const ask = (helper: ChildProcess): Promise<Peer | null> =>
      new Promise<Peer | null>((resolve, reject) => {
        this.peeks.set(id, { resolve, reject });
        this.updateRef();
        const failed = (err: Error): void => {
          if (!this.peeks.delete(id)) return;
          this.updateRef();
          reject(spawnerError('EPIPE', `cannot pass the socket to the spawn helper: ${err.message}`));
        };
        try {
          this.sendWithHandle(helper, requests.peek(id), handle, (err) => {
            if (err) failed(err);
          });
        } catch (err) {
          failed(asError(err));
        }
      });
    if (this.helper !== null) return ask(this.helper);
    return this.ensureHelper().then(ask);
  }

  onExit(handler: (info: ExitInfo) => void): void {
    this.handlers.push(handler);
  }

  kill(pid: number, signal: NodeJS.Signals | number): void {
    const sig = signalNumber(signal);
    if (sig === null) {
      this.warn(`kill(${pid}): unknown signal ${String(signal)}`);
      return;
    }
    if (!this.live.has(pid)) return;
    const helper = this.helper;
    if (this.orphans.has(pid) || helper === null) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
      return;
    }
    // Through the helper: it signals only children it has not reaped, so a recycled pid is
    // never hit.
    this.sendPlain(requests.kill(pid, sig), (err) => this.warn(`kill(${pid}, ${sig}) not delivered to the spawn helper: ${err.message}`));
  }

  async settle(): Promise<void> {
    const helper = this.helper;
    if (helper !== null && helper.connected) await this.drained(helper, CLOSE_TIMEOUT_MS);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.relaunchTimer !== null) clearTimeout(this.relaunchTimer);
    this.relaunchTimer = null;
    this.listening.clear();
    this.paused.clear();
    if (this.orphanTimer !== null) clearInterval(this.orphanTimer);
    this.orphanTimer = null;
    const cancelPending = (): void => {
      this.rejectPending((p) => spawnerError('ECANCELED', `spawner closed before ${p.path} was started`));
      this.rejectPeeks(spawnerError('ECANCELED', 'spawner closed before the sender was known'));
    };
    const helper = this.helper ?? (await this.starting?.catch(() => null)) ?? null;
    if (helper === null || helper.exitCode !== null || helper.signalCode !== null) return cancelPending();
    helper.ref(); // wait for it even when nothing else keeps the event loop alive
    // Listened for from now on: the helper may die meanwhile (a signal to the whole process
    // group, as tini -g sends), and 'exit' is not emitted twice.
    const exited = new Promise<void>((resolve) => helper.once('exit', () => resolve()));
    // Closing the channel cancels writes still queued in it (kills of a stop among them, when
    // the helper is busy starting servers): first let the helper handle everything sent so
    // far. Spawns it answers meanwhile are started servers, not cancelled ones.
    await Promise.race([this.drained(helper, CLOSE_TIMEOUT_MS), exited]);
    cancelPending();
    if (helper.exitCode !== null || helper.signalCode !== null) return;
    // 'exit', not 'close': Node never reports 'close' after a disconnect() of its own.
    const timer = setTimeout(() => helper.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
    // The helper exits on EOF and leaves its children running.
    if (helper.connected) helper.disconnect();
    else helper.kill('SIGTERM');
    await exited;
    clearTimeout(timer);
  }

  // ---- internals ----

  /** Resolves once the helper has answered a ping sent after everything before it, or after `ms`. */
  private drained(helper: ChildProcess, ms: number): Promise<void> {
    this.flushOutbox();
    if (!helper.connected) return Promise.resolve();
    const id = this.nextId++;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.pongWaiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.pongWaiters.set(id, done);
      try {
        helper.send(requests.ping(id).request, (err) => {
          if (err) done();
        });
      } catch {
        done();
      }
    });
  }

  /** What to give child.send() for `stdio`; 'none' without a descriptor, 'busy' when libuv refuses it. */
  private sendableHandle(stdio: Exclude<ChildStdio, { accepted: number }>): SendHandle | 'none' | 'busy' {
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

  private send(helper: ChildProcess, item: Sized<SpawnRequest>, handle: SendHandle | null): Promise<number> {
    const { request } = item;
    return new Promise<number>((resolve, reject) => {
      if (this.closed) {
        reject(spawnerError('ECANCELED', 'spawner closed'));
        return;
      }
      this.pending.set(request.id, { resolve, reject, path: request.path });
      this.updateRef();
      const failed = (err: Error) => {
        const p = this.pending.get(request.id);
        if (p === undefined) return;
        this.pending.delete(request.id);
        this.updateRef();
        p.reject(spawnerError('EPIPE', `cannot pass ${request.path} to the spawn helper: ${err.message}`));
      };
      try {
        // Without a descriptor (a connection the helper holds): batched with the other requests.
        if (handle === null) {
          this.sendPlain(item, failed);
          return;
        }
        this.sendWithHandle(helper, request, handle, (err) => {
          if (err) failed(err);
        });
      } catch (err) {
        failed(asError(err));
      }
    });
  }

  private ensureHelper(): Promise<ChildProcess> {
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
      const timer = setTimeout(
        () => finish(new Error(`the spawn helper did not become ready within ${this.readyTimeoutMs} ms`)),
        this.readyTimeoutMs,
      );
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
    for (const [lid, fd] of this.listening) this.sendListen(helper, lid, fd);
    // Not through sendPlain(): this.helper is set only once attach() is over.
    for (const lid of this.paused) {
      helper.send(requests.accepting(lid, false).request, (err) => {
        if (err) this.warn(`listener ${lid} not paused in the spawn helper: ${err.message}`);
      });
    }
  }

  private updateRef(helper: ChildProcess | null = this.helper): void {
    const want = this.pending.size > 0 || this.peeks.size > 0 || this.live.size > this.orphans.size;
    const channel = helper?.channel;
    if (channel === undefined || channel === null || want === this.channelRefd) return;
    this.channelRefd = want;
    if (want) channel.ref();
    else channel.unref();
  }

  private onMessage(raw: unknown): void {
    const msg = parseHelperMessage(raw);
    if (msg === null) {
      this.warn(`spawn helper sent an unexpected message: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    switch (msg.t) {
      case 'spawned': {
        this.live.add(msg.pid);
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        this.updateRef();
        p?.resolve(msg.pid);
        break;
      }
      case 'error': {
        const peek = msg.id === null ? undefined : this.peeks.get(msg.id);
        if (peek !== undefined) {
          this.peeks.delete(msg.id as number);
          this.updateRef();
          const [code, text] = describeErrno(msg.errno);
          // EAGAIN: nothing is queued (any more).
          if (code === 'EAGAIN') peek.resolve(null);
          else peek.reject(spawnerError(code, `the sender of the datagram cannot be known: ${msg.message || text} (${code})`));
          break;
        }
        const p = msg.id === null ? undefined : this.pending.get(msg.id);
        if (p === undefined) {
          this.warn(`spawn helper: ${msg.stage}: ${msg.message}`);
          break;
        }
        this.pending.delete(msg.id as number);
        this.updateRef();
        p.reject(new NativeSpawnError(p.path, msg.stage, msg.errno, msg.message));
        break;
      }
      case 'exit':
        if (this.live.delete(msg.pid)) {
          this.updateRef();
          this.emitExit({ pid: msg.pid, code: msg.code, signal: msg.signal });
        }
        break;
      case 'warn':
        this.warn(`spawn helper: ${msg.message}`);
        break;
      case 'conn': {
        const conn = this.accepted(msg.cid, msg.addr, msg.port, msg.laddr);
        if (this.acceptorEvents === null || !this.listening.has(msg.lid)) conn.drop();
        else this.acceptorEvents.connection(msg.lid, conn);
        break;
      }
      case 'accept-error': {
        const [code, text] = describeErrno(msg.errno);
        const err: NodeJS.ErrnoException = new Error(`accept: ${text}`);
        err.code = code;
        err.errno = -msg.errno;
        err.syscall = 'accept';
        if (this.listening.has(msg.lid)) this.acceptorEvents?.error(msg.lid, err);
        break;
      }
      case 'sender': {
        const peek = this.peeks.get(msg.id);
        if (peek === undefined) break;
        this.peeks.delete(msg.id);
        this.updateRef();
        peek.resolve({ address: msg.addr, port: msg.port, family: msg.addr.includes(':') ? 'IPv6' : 'IPv4' });
        break;
      }
      case 'pong':
        this.pongWaiters.get(msg.id)?.();
        break;
      case 'ready':
        break;
    }
  }

  private emitExit(info: ExitInfo): void {
    for (const handler of this.handlers) handler(info);
  }

  private rejectPending(errorFor: (p: Pending) => Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(errorFor(p));
  }

  private rejectPeeks(err: Error): void {
    const all = [...this.peeks.values()];
    this.peeks.clear();
    for (const p of all) p.reject(err);
  }

  private onHelperGone(helper: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.helper === helper) this.helper = null;
    if (this.closed) return;
    const why = describeExit(code, signal);
    this.rejectPending((p) => spawnerError('EPIPE', `the spawn helper exited (${why}) before ${p.path} was started`));
    this.rejectPeeks(spawnerError('EPIPE', `the spawn helper exited (${why}) before it said who sent the datagram`));
    const running = [...this.live].filter((pid) => !this.orphans.has(pid));
    this.warn(
      `the spawn helper (pid ${String(helper.pid)}) exited (${why}); it is started again on the next connection` +
        (running.length > 0 ? `; ${running.length} running server(s) are now only polled for their end` : ''),
    );
    for (const pid of running) this.orphans.add(pid);
    this.watchOrphans();
    // Listening sockets accepted on by the helper would go unserved: start it again soon.
    if (this.listening.size > 0) this.relaunchSoon();
  }

  private relaunchSoon(): void {
    if (this.relaunchTimer !== null || this.closed) return;
    this.relaunchTimer = setTimeout(() => {
      this.relaunchTimer = null;
      if (this.closed || this.helper !== null || this.listening.size === 0) return;
      this.ensureHelper().catch((err: unknown) => {
        this.warn(`the spawn helper could not be started again: ${asError(err).message}`);
        this.relaunchSoon();
      });
    }, RESTART_INTERVAL_MS + 50);
    this.relaunchTimer.unref();
  }

  private watchOrphans(): void {
    if (this.orphanTimer !== null || this.orphans.size === 0 || this.closed) return;
    this.orphanTimer = setInterval(() => {
      for (const pid of this.orphans) {
        if (isRunning(pid)) continue;
        this.orphans.delete(pid);
        // Its status went to whoever adopted it.
        if (this.live.delete(pid)) this.emitExit({ pid, code: null, signal: null });
      }
      if (this.orphans.size === 0 && this.orphanTimer !== null) {
        clearInterval(this.orphanTimer);
        this.orphanTimer = null;
      }
    }, ORPHAN_POLL_MS);
    this.orphanTimer.unref();
  }
}

/** A started native spawner; rejects when the helper does not start. */
export async function startNativeSpawner(options: NativeSpawnerOptions): Promise<NativeSpawner> {
  const spawner = new NativeSpawner(options);
  await spawner.start();
  return spawner;
}
