// The socket of a unix-domain datagram service (inetd.conf `/path dgram unix wait ...`): Node
// cannot open an AF_UNIX SOCK_DGRAM socket, so the spawn helper holds it (spawn-types.ts
// HelperSockets), and the daemon sees it as a WatchedSocket that has no descriptor here: watched,
// drained, given to servers and closed through the helper. The socket file is prepared, given its
// owner, group and mode, and removed by unix-socket-file.ts, as a stream socket's is.

import type { ChildStdio, HelperSockets } from '../spawn/spawn-types.js';
import type { UnixSocket } from '../table.js';
import { bindSocketFileAsync, type SocketFile } from './unix-socket-file.js';
import type { WatchedSocket } from './wait-socket.js';
import { UNIX_DGRAM_NEEDS_HELPER } from './listen-plan.js';

export class HeldDgramSocket implements WatchedSocket {
  readonly transport = 'unix-dgram';
  readonly fd = -1;
  private closed = false;

  private constructor(
    private readonly sockets: HelperSockets,
    /** The id the helper knows the socket by (the listener's). */
    readonly id: number,
    readonly file: SocketFile,
  ) {}

  /**
   * Has the helper bind socket `id` at `unix.path` (the file's rules: unix-socket-file.ts).
   * Rejects with the bind's error; without a helper (`sockets` null) with ENOTSUP, which is not
   * retried (listen-plan.ts unservedHere() says why before).
   */
  static async open(sockets: HelperSockets | null, id: number, unix: UnixSocket): Promise<HeldDgramSocket> {
    if (sockets === null) {
      const err: NodeJS.ErrnoException = new Error(UNIX_DGRAM_NEEDS_HELPER);
      err.code = 'ENOTSUP';
      throw err;
    }
    const { file } = await bindSocketFileAsync(
      unix,
      () => sockets.bind(id, unix.path),
      () => sockets.close(id),
    );
    return new HeldDgramSocket(sockets, id, file);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get stdio(): ChildStdio {
    return { heldSocket: this.id };
  }

  watch(onReadable: () => void): void {
    if (this.closed) return;
    this.sockets.watch(this.id, () => {
      if (!this.closed) onReadable();
    });
  }

  /** A watch asked for reports once; nothing to stop here (the daemon asks again only after a server). */
  unwatch(): void {}

  /** The helper's socket is blocking, and servers get a copy of it: nothing to restore. */
  restoreNonBlocking(): void {}

  drain(): Promise<number> {
    return this.closed ? Promise.resolve(0) : this.sockets.drain(this.id);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sockets.close(this.id);
  }
}
