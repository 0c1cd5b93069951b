// Accepting in the spawn helper (native/accept.c): the listening sockets it accepts on and those
// it was told to pause, both sent again to a restarted helper; the connections it reports
// ('conn'), each decided once (a server started on it, a reply written, or dropped); and its
// accept errors. See spawn-types.ts Acceptor, and native/PROTOCOL.md.

import type { ChildProcess } from 'node:child_process';
import type { AcceptedConnection, Acceptor, AcceptorEvents } from '../spawn-types.js';
import { asError, spawnerError } from './spawn-native-errors.js';
import type { HelperProcess } from './spawnd-helper.js';
import { describeErrno } from '../../sys/errno.js';
import { requests, type HelperMessage, type PlainRequest, type Sized } from './spawnd-messages.js';

/** How long unlisten() waits for the connections accepted before it to be reported (a helper that does not answer is dying). */
const UNLISTEN_DRAIN_MS = 2000;

export class NativeAcceptor implements Acceptor {
  /** Listening sockets the helper accepts on, by listener id (sent again to a restarted helper). */
  private readonly listening = new Map<number, number>();
  /** Listeners told not to accept (sent again to a restarted helper). */
  private readonly paused = new Set<number>();
  /** Listeners unlistened whose earlier connections are still being reported (unlisten()), by count. */
  private readonly draining = new Map<number, number>();
  private acceptorEvents: AcceptorEvents | null = null;

  constructor(
    private readonly proc: HelperProcess,
    private readonly warn: (message: string) => void,
  ) {}

  /** Whether the helper must run for listeners (it is then started again when it dies). */
  get active(): boolean {
    return this.listening.size > 0;
  }

  listen(lid: number, fd: number): void {
    this.listening.set(lid, fd);
    const helper = this.proc.current;
    if (helper !== null) this.sendListen(helper, lid, fd);
    // A helper being started gets every listener once it is ready (attach()).
    else {
      void this.proc.ensure().catch((err: unknown) => {
        this.warn(`cannot accept for listener ${lid} yet: ${asError(err).message}`);
        this.proc.relaunchSoon();
      });
    }
  }

  unlisten(lid: number): Promise<void> {
    this.paused.delete(lid);
    if (!this.listening.delete(lid)) return Promise.resolve();
    this.proc.sendPlain(requests.unlisten(lid));
    // Requests and replies keep their order: once a ping sent after the unlisten is answered,
    // every connection accepted on lid before it has been reported. Until then those are
    // still delivered (not dropped as a stale listener's).
    const helper = this.proc.current;
    if (helper === null) return Promise.resolve();
    this.draining.set(lid, (this.draining.get(lid) ?? 0) + 1);
    return this.proc.drained(helper, UNLISTEN_DRAIN_MS).finally(() => {
      const n = (this.draining.get(lid) ?? 1) - 1;
      if (n > 0) this.draining.set(lid, n);
      else this.draining.delete(lid);
    });
  }

  setAccepting(lid: number, on: boolean): void {
    if (!this.listening.has(lid) || on !== this.paused.has(lid)) return;
    if (on) this.paused.delete(lid);
    else this.paused.add(lid);
    // No helper now: a started one gets the state after the listener (attach()).
    if (this.proc.current !== null) this.proc.sendPlain(requests.accepting(lid, on));
  }

  setEvents(events: AcceptorEvents): void {
    this.acceptorEvents = events;
  }

  /** Forgets every listener (the spawner is closing). */
  clear(): void {
    this.listening.clear();
    this.paused.clear();
  }

  /** A helper just started: every listener, then the paused ones. */
  attached(helper: ChildProcess): void {
    for (const [lid, fd] of this.listening) this.sendListen(helper, lid, fd);
    // Not through sendPlain(): the helper becomes the current one only once it is attached.
    for (const lid of this.paused) {
      this.proc.post(helper, requests.accepting(lid, false).request, (err) => {
        if (err) this.warn(`listener ${lid} not paused in the spawn helper: ${err.message}`);
      });
    }
  }

  /** The helper's messages about accepting ('conn', 'accept-error'). */
  message(msg: Extract<HelperMessage, { t: 'conn' | 'accept-error' }>): void {
    switch (msg.t) {
      case 'conn': {
        const conn = this.accepted(msg.cid, msg.addr, msg.port, msg.laddr);
        if (this.acceptorEvents === null || (!this.listening.has(msg.lid) && !this.draining.has(msg.lid))) conn.drop();
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
    }
  }

  private sendListen(helper: ChildProcess, lid: number, fd: number): void {
    const handle = this.proc.sendableHandle({ fd });
    if (typeof handle === 'string') {
      this.acceptorEvents?.error(lid, spawnerError(handle === 'busy' ? 'EBUSY' : 'EBADF', `listener ${lid}: the socket cannot be passed to the spawn helper`));
      return;
    }
    try {
      this.proc.sendWithHandle(helper, requests.listen(lid), handle, (err) => {
        if (err) this.warn(`listener ${lid} not passed to the spawn helper: ${err.message}`);
      });
    } catch (err) {
      this.warn(`listener ${lid} not passed to the spawn helper: ${asError(err).message}`);
    }
  }

  private accepted(cid: number, addr: string, port: number, local: string | null): AcceptedConnection {
    let decided = false;
    const once = (request: Sized<PlainRequest>): void => {
      if (decided) return;
      decided = true;
      this.proc.sendPlain(request);
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
}
