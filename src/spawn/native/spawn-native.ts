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
// collected, so they are polled (kill(pid, 0)) and reported with code and signal null.//
// The helper process itself (start, ready, death, relaunch, the channel) is spawnd-helper.ts,
// accepting in it spawnd-acceptor.ts, the errors spawn-native-errors.ts.

import type { ChildProcess } from 'node:child_process';
import type { Acceptor, ChildStdio, ExitInfo, HelperSockets, RawDescriptor, SpawnCapabilities, SpawnSpec, Spawner } from '../spawn-types.js';
import type { Peer } from '../../peer.js';
import { describeErrno } from '../../sys/errno.js';
import { asError, isRunning, NativeSpawnError, signalNumber, spawnerError } from './spawn-native-errors.js';
import { NativeAcceptor } from './spawnd-acceptor.js';
import { NativeHelperSockets } from './spawnd-sockets.js';
import { CLOSE_TIMEOUT_MS, HelperProcess } from './spawnd-helper.js';
import { encodeSpawnRequest, requests, type ChildStart, type HeldSocket, type HelperMessage, type Sized, type SpawnRequest } from './spawnd-messages.js';
import type { SendHandle } from '../../sys/uv-handles.js';

const ORPHAN_POLL_MS = 500;

export const NATIVE_SPAWNER_CAPABILITIES: SpawnCapabilities = {
  uidGid: true,
  groups: true,
  umask: true,
  nice: true,
  rlimits: true,
  peekSender: true,
  unixDatagram: true,
};

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
   * (native/children.c: start_forked, start_shared). Default false.
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
  private readonly warn: (message: string) => void;
  private readonly proc: HelperProcess;
  private readonly accepting: NativeAcceptor;
  private readonly pending = new Map<number, Pending>();
  /** Sender peeks sent to the helper and not answered yet, by request id. */
  private readonly peeks = new Map<number, { resolve(peer: Peer | null): void; reject(err: Error): void }>();
  /** Children started and not yet reported as exited. */
  private readonly live = new Set<number>();
  /** Live children of a helper that died: polled, since nobody can reap them for us. */
  private readonly orphans = new Set<number>();
  private orphanTimer: NodeJS.Timeout | null = null;
  private readonly handlers: Array<(info: ExitInfo) => void> = [];
  private closed = false;
  /** Accepting in the helper (see spawn-types.ts); null when TSINETD_HELPER_ACCEPT=0. */
  readonly acceptor: Acceptor | null;
  private readonly sockets: NativeHelperSockets;

  constructor(options: NativeSpawnerOptions) {
    this.warn = options.onWarning ?? ((message) => process.emitWarning(message, 'TsinetdSpawnWarning'));
    this.proc = new HelperProcess({
      helperPath: options.helperPath,
      readyTimeoutMs: options.readyTimeoutMs ?? 3000,
      forkChildren: options.forkChildren ?? false,
      warn: this.warn,
    });
    this.accepting = new NativeAcceptor(this.proc, this.warn);
    this.acceptor = options.accept === false ? null : this.accepting;
    this.sockets = new NativeHelperSockets(this.proc);
    this.proc.setEvents({
      message: (msg) => this.onMessage(msg),
      attached: (helper) => this.accepting.attached(helper),
      gone: (helper, why) => this.onHelperGone(helper, why),
      awaiting: () => this.pending.size > 0 || this.peeks.size > 0 || this.sockets.awaiting || this.live.size > this.orphans.size,
      needed: () => this.accepting.active,
    });
  }

  /** Unix-domain datagram sockets held by the helper (spawn-types.ts HelperSockets). */
  get helperSockets(): HelperSockets {
    return this.sockets;
  }

  /** How the running helper starts children, as it said when it became ready (null before). */
  get childStart(): ChildStart | null {
    return this.proc.childStart;
  }

  /** Starts the helper now; rejects when it cannot run (missing binary, no answer). */
  start(): Promise<void> {
    return this.proc.ensure().then(() => undefined);
  }

  /** The helper's pid while it runs (diagnostics and tests). */
  get helperPid(): number | null {
    return this.proc.current?.pid ?? null;
  }

  spawn(spec: SpawnSpec, stdio: ChildStdio): Promise<number> {
    try {
      if (this.closed) return Promise.reject(spawnerError('ECANCELED', 'spawner closed'));
      if ('accepted' in stdio) return this.spawnHeld(spec, { cid: stdio.accepted });
      if ('heldSocket' in stdio) return this.spawnHeld(spec, { lid: stdio.heldSocket });
      const handle = this.proc.sendableHandle(stdio);
      if (handle === 'busy') {
        const fd = (stdio as RawDescriptor).fd;
        return Promise.reject(spawnerError('EBUSY', `descriptor ${fd} is watched by the event loop; stop watching it before spawning`));
      }
      if (handle === 'none') return Promise.reject(spawnerError('EBADF', 'the socket to pass has no descriptor'));
      const encoded = encodeSpawnRequest(this.proc.newId(), spec);
      if (!encoded.ok) return Promise.reject(spawnerError('EINVAL', encoded.error));
      const { request, bytes } = encoded;
      const current = this.proc.current;
      if (current !== null) return this.send(current, { request, bytes }, handle);
      return this.proc.ensure().then((helper) => this.send(helper, { request, bytes }, handle));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  /** A server for a connection or socket the helper holds: no descriptor travels, only its id. */
  private spawnHeld(spec: SpawnSpec, held: HeldSocket): Promise<number> {
    const encoded = encodeSpawnRequest(this.proc.newId(), spec, held);
    if (!encoded.ok) return Promise.reject(spawnerError('EINVAL', encoded.error));
    const helper = this.proc.current;
    // The connection or socket lives in the helper: without that helper it is gone.
    if (helper === null) return Promise.reject(spawnerError('ENOTCONN', 'the spawn helper holding the socket is not running'));
    return this.send(helper, { request: encoded.request, bytes: encoded.bytes }, null);
  }

  /**
   * The sender of the first datagram queued on bound UDP socket `fd` (null: none is queued): the
   * socket travels to the helper as a spawn's does, the helper peeks (MSG_PEEK) and closes its copy.
   */
  peekSender(fd: number): Promise<Peer | null> {
    if (this.closed) return Promise.reject(spawnerError('ECANCELED', 'spawner closed'));
    const handle = this.proc.sendableHandle({ fd });
    if (typeof handle === 'string') {
      return Promise.reject(spawnerError(handle === 'busy' ? 'EBUSY' : 'EBADF', `descriptor ${fd} cannot be passed to the spawn helper`));
    }
    const id = this.proc.newId();
    const ask = (helper: ChildProcess): Promise<Peer | null> =>
      new Promise<Peer | null>((resolve, reject) => {
        this.peeks.set(id, { resolve, reject });
        this.proc.updateRef();
        const failed = (err: Error): void => {
          if (!this.peeks.delete(id)) return;
          this.proc.updateRef();
          reject(spawnerError('EPIPE', `cannot pass the socket to the spawn helper: ${err.message}`));
        };
        try {
          this.proc.sendWithHandle(helper, requests.peek(id), handle, (err) => {
            if (err) failed(err);
          });
        } catch (err) {
          failed(asError(err));
        }
      });
    const current = this.proc.current;
    if (current !== null) return ask(current);
    return this.proc.ensure().then(ask);
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
    const helper = this.proc.current;
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
    this.proc.sendPlain(requests.kill(pid, sig), (err) => this.warn(`kill(${pid}, ${sig}) not delivered to the spawn helper: ${err.message}`));
  }

  async settle(): Promise<void> {
    const helper = this.proc.current;
    if (helper !== null && helper.connected) await this.proc.drained(helper, CLOSE_TIMEOUT_MS);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.accepting.clear();
    if (this.orphanTimer !== null) clearInterval(this.orphanTimer);
    this.orphanTimer = null;
    await this.proc.close(() => {
      this.rejectPending((p) => spawnerError('ECANCELED', `spawner closed before ${p.path} was started`));
      this.rejectPeeks(spawnerError('ECANCELED', 'spawner closed before the sender was known'));
    });
  }

  // ---- internals ----

  private send(helper: ChildProcess, item: Sized<SpawnRequest>, handle: SendHandle | null): Promise<number> {
    const { request } = item;
    return new Promise<number>((resolve, reject) => {
      if (this.closed) {
        reject(spawnerError('ECANCELED', 'spawner closed'));
        return;
      }
      this.pending.set(request.id, { resolve, reject, path: request.path });
      this.proc.updateRef();
      const failed = (err: Error) => {
        const p = this.pending.get(request.id);
        if (p === undefined) return;
        this.pending.delete(request.id);
        this.proc.updateRef();
        p.reject(spawnerError('EPIPE', `cannot pass ${request.path} to the spawn helper: ${err.message}`));
      };
      try {
        // Without a descriptor (a connection the helper holds): batched with the other requests.
        if (handle === null) {
          this.proc.sendPlain(item, failed);
          return;
        }
        this.proc.sendWithHandle(helper, request, handle, (err) => {
          if (err) failed(err);
        });
      } catch (err) {
        failed(asError(err));
      }
    });
  }

  private onMessage(msg: HelperMessage): void {
    switch (msg.t) {
      case 'spawned': {
        this.live.add(msg.pid);
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        this.proc.updateRef();
        p?.resolve(msg.pid);
        break;
      }
      case 'error': {
        const peek = msg.id === null ? undefined : this.peeks.get(msg.id);
        if (peek !== undefined) {
          this.peeks.delete(msg.id as number);
          this.proc.updateRef();
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
        this.proc.updateRef();
        p.reject(new NativeSpawnError(p.path, msg.stage, msg.errno, msg.message));
        break;
      }
      case 'exit':
        if (this.live.delete(msg.pid)) {
          this.proc.updateRef();
          this.emitExit({ pid: msg.pid, code: msg.code, signal: msg.signal });
        }
        break;
      case 'warn':
        this.warn(`spawn helper: ${msg.message}`);
        break;
      case 'conn':
      case 'accept-error':
        this.accepting.message(msg);
        break;
      case 'bound':
      case 'readable':
      case 'drained':
        this.sockets.message(msg);
        break;
      case 'sender': {
        const peek = this.peeks.get(msg.id);
        if (peek === undefined) break;
        this.peeks.delete(msg.id);
        this.proc.updateRef();
        peek.resolve({ address: msg.addr, port: msg.port, family: msg.addr.includes(':') ? 'IPv6' : 'IPv4' });
        break;
      }
      case 'pong':
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

  private onHelperGone(helper: ChildProcess, why: string): void {
    this.rejectPending((p) => spawnerError('EPIPE', `the spawn helper exited (${why}) before ${p.path} was started`));
    this.rejectPeeks(spawnerError('EPIPE', `the spawn helper exited (${why}) before it said who sent the datagram`));
    const running = [...this.live].filter((pid) => !this.orphans.has(pid));
    this.warn(
      `the spawn helper (pid ${String(helper.pid)}) exited (${why}); it is started again on the next connection` +
        (running.length > 0 ? `; ${running.length} running server(s) are now only polled for their end` : ''),
    );
    for (const pid of running) this.orphans.add(pid);
    this.watchOrphans();
    this.sockets.gone(why);
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
