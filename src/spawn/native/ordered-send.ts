// Sending to the helper in order, one descriptor in flight at a time, at a constant cost per
// message.
//
// Node's IPC channel sends a message carrying a descriptor and then holds back every later
// message until the other side acknowledges the descriptor (NODE_HANDLE_ACK). The held messages
// wait in an array that Node walks and rebuilds on every acknowledgement: handing it 10,000
// listening sockets at once costs 10,000 × 10,000 / 2 re-queued messages. At 10,000 services
// that kept the daemon busy, allocating about 130 MB a second, for many seconds after "Started
// working" (#16). Here the messages wait in our own queue instead, and Node is given the next
// one only once the descriptor before it is acknowledged; the order of all messages, with or
// without a descriptor, stays the order in which they were sent.

import type { ChildProcess, MessageOptions } from 'node:child_process';
import type { SEND_OPTIONS, SendHandle } from '../../sys/uv-handles.js';
import { asError, spawnerError } from './spawn-native-errors.js';

type Callback = (err: Error | null) => void;

interface Pending {
  message: object;
  handle: SendHandle | undefined;
  options: MessageOptions | undefined;
  callback: Callback;
}

/**
 * Node's own messages that end a descriptor's flight (lib/internal/child_process.js): ACK, it
 * was received; NACK, it could not be (the helper at its descriptor limit answers so). Every
 * descriptor here is sent with `keepOpen` (uv-handles.ts SEND_OPTIONS), and Node resends only
 * a descriptor sent without it, so after either answer Node sends nothing more of it and
 * writes what it held back.
 */
function endsFlight(message: unknown): boolean {
  const cmd = typeof message === 'object' && message !== null ? (message as { cmd?: unknown }).cmd : undefined;
  return cmd === 'NODE_HANDLE_ACK' || cmd === 'NODE_HANDLE_NACK';
}

export class OrderedSender {
  private queue: Array<Pending | undefined> = [];
  private head = 0;
  /** A message with a descriptor was handed to Node and is not acknowledged yet. */
  private inFlight = false;

  constructor(private readonly child: ChildProcess) {
    // Node's own listener, added when the channel was set up, runs first: its queue is empty
    // again by the time this one runs.
    child.on('internalMessage', (message: unknown) => {
      if (!endsFlight(message)) return;
      this.inFlight = false;
      this.pump();
    });
    // A child that exits while a descriptor is in flight never acknowledges it, and Node then
    // does not always report 'disconnect': 'close' comes in every case.
    const gone = (): void => this.failAll(spawnerError('EPIPE', 'the spawn helper is not running'));
    child.once('disconnect', gone);
    child.once('close', gone);
  }

  /** Messages waiting here (not yet handed to Node). */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Sends `message` (with `handle` when given) after everything sent before it; `callback` once it is written or failed. */
  send(message: object, handle: SendHandle | undefined, options: typeof SEND_OPTIONS | undefined, callback: Callback): void {
    const item = { message, handle, options, callback };
    if (this.inFlight || this.waiting > 0) this.queue.push(item);
    else this.write(item);
  }

  private write(item: Pending): void {
    let done = false;
    const callback = (err: Error | null): void => {
      if (done) return;
      done = true;
      // A descriptor that could not be written is never acknowledged.
      if (err !== null && item.handle !== undefined) {
        this.inFlight = false;
        queueMicrotask(() => this.pump());
      }
      item.callback(err);
    };
    if (!this.child.connected) {
      callback(spawnerError('EPIPE', 'the spawn helper is not running'));
      return;
    }
    if (item.handle !== undefined) this.inFlight = true;
    try {
      // Node's typings list only socket objects; a bare libuv handle is accepted too.
      this.child.send(item.message, item.handle as Parameters<ChildProcess['send']>[1], item.options ?? {}, (err) => callback(err));
    } catch (err) {
      callback(asError(err));
    }
  }

  private pump(): void {
    while (!this.inFlight && this.waiting > 0) {
      const item = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (item !== undefined) this.write(item);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private failAll(err: Error): void {
    const items = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    this.inFlight = false;
    for (const item of items) item?.callback(err);
  }
}
