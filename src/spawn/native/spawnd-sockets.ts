// Unix-domain datagram sockets held by the spawn helper (native/udgram.c, protocol 5): Node can
// neither open an AF_UNIX SOCK_DGRAM socket nor receive one over its channel, so the helper binds
// it ('ubind', answered by 'bound'), reports it readable once per 'watch' without reading it
// ('readable'), discards what is queued ('drain', answered by 'drained'), gives a copy to the
// servers started on it (spawn with `lid`), and closes it ('unlisten'). A helper that dies takes
// its sockets with it: each holder is told (onLost) and binds again. See spawn-types.ts
// HelperSockets, and native/PROTOCOL.md.

import type { HelperSockets } from '../spawn-types.js';
import { describeErrno } from '../../sys/errno.js';
import { asError, spawnerError } from './spawn-native-errors.js';
import type { HelperProcess } from './spawnd-helper.js';
import { requests, type HelperMessage } from './spawnd-messages.js';

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

export class NativeHelperSockets implements HelperSockets {
  /** Sockets the running helper holds (bound and not closed). */
  private readonly held = new Set<number>();
  /** Binds asked for and not answered yet, by id. */
  private readonly binds = new Map<number, Waiter<void>>();
  /** Drains asked for and not answered yet, oldest first, by id. */
  private readonly draining = new Map<number, Array<(count: number) => void>>();
  private readonly watchers = new Map<number, () => void>();
  private readonly lostHandlers: Array<(id: number) => void> = [];

  constructor(private readonly proc: HelperProcess) {}

  /** Whether an answer is awaited (the channel then keeps the daemon alive). */
  get awaiting(): boolean {
    return this.binds.size > 0 || this.draining.size > 0;
  }

  bind(id: number, path: string): Promise<void> {
    const request = requests.ubind(id, path);
    if (request === null) return Promise.reject(spawnerError('EINVAL', `${JSON.stringify(path)} cannot be a socket path`));
    if (this.binds.has(id)) return Promise.reject(spawnerError('EBUSY', `socket ${id} is being bound already`));
    return this.proc.ensure().then(
      () =>
        new Promise<void>((resolve, reject) => {
          this.binds.set(id, { resolve, reject });
          this.proc.updateRef();
          this.proc.sendPlain(request, (err) => this.settleBind(id, err));
        }),
    );
  }

  watch(id: number, onReadable: () => void): void {
    if (!this.held.has(id)) return;
    this.watchers.set(id, onReadable);
    this.proc.sendPlain(requests.watch(id));
  }

  drain(id: number): Promise<number> {
    if (!this.held.has(id)) return Promise.resolve(0);
    return new Promise<number>((resolve) => {
      const list = this.draining.get(id) ?? [];
      list.push(resolve);
      this.draining.set(id, list);
      this.proc.updateRef();
      this.proc.sendPlain(requests.drain(id), () => this.settleDrain(id, 0));
    });
  }

  close(id: number): void {
    this.watchers.delete(id);
    const bind = this.binds.get(id);
    // A bind still on its way is closed right after it (the helper handles requests in order).
    if (bind !== undefined) {
      this.binds.delete(id);
      this.proc.updateRef();
      bind.reject(spawnerError('ECANCELED', `socket ${id} closed while it was being bound`));
    } else if (!this.held.delete(id)) {
      return;
    }
    this.proc.sendPlain(requests.unlisten(id));
  }

  onLost(handler: (id: number) => void): void {
    this.lostHandlers.push(handler);
  }

  /** The helper's messages about these sockets. */
  message(msg: Extract<HelperMessage, { t: 'bound' | 'readable' | 'drained' }>): void {
    switch (msg.t) {
      case 'bound': {
        if (msg.errno === 0) {
          if (this.binds.has(msg.lid)) this.held.add(msg.lid);
          this.settleBind(msg.lid, null);
          break;
        }
        const [code, text] = describeErrno(msg.errno);
        const err: NodeJS.ErrnoException = new Error(`bind: ${text}`);
        err.code = code;
        err.errno = -msg.errno;
        err.syscall = 'bind';
        this.settleBind(msg.lid, err);
        break;
      }
      case 'readable': {
        const cb = this.watchers.get(msg.lid);
        this.watchers.delete(msg.lid);
        if (cb !== undefined && this.held.has(msg.lid)) cb();
        break;
      }
      case 'drained':
        this.settleDrain(msg.lid, msg.count);
        break;
    }
  }

  /** The helper ended: its sockets are gone; answers awaited from it never come. */
  gone(why: string): void {
    for (const [id, w] of [...this.binds]) {
      this.binds.delete(id);
      w.reject(spawnerError('EPIPE', `the spawn helper exited (${why}) before socket ${id} was bound`));
    }
    for (const id of [...this.draining.keys()]) this.settleDrain(id, 0);
    const lost = [...this.held];
    this.held.clear();
    this.watchers.clear();
    for (const id of lost) for (const h of this.lostHandlers) h(id);
  }

  private settleBind(id: number, err: Error | null): void {
    const w = this.binds.get(id);
    if (w === undefined) return;
    this.binds.delete(id);
    this.proc.updateRef();
    if (err === null) w.resolve();
    else w.reject(err.message.startsWith('bind:') ? err : spawnerError('EPIPE', `socket ${id} not bound by the spawn helper: ${asError(err).message}`));
  }

  private settleDrain(id: number, count: number): void {
    const list = this.draining.get(id);
    const first = list?.shift();
    if (list !== undefined && list.length === 0) this.draining.delete(id);
    this.proc.updateRef();
    first?.(count);
  }
}
