// The calls to the local rpcbind (I/O): SET, UNSET and DUMP of rpcbind protocol version 4, each on
// its own connection to rpcbind's unix socket (/run/rpcbind.sock), with a timeout. The messages
// are built and read by rpc-xdr.ts.
//
// Why this way, not portmapper version 2 (PMAPPROC_SET) on 127.0.0.1:111: Debian's rpcbind
// (1.2.6) takes SET and UNSET only from a "loopback" caller, and for a UDP or TCP caller that
// holds only when it runs with -L (oldstyle_local; security.c is_loopback()); callers on its unix
// socket always qualify, and it records their uid (SO_PEERCRED) as the mapping's owner, so that
// only that uid or root can remove it. Version 2 also cannot say "tcp6"/"udp6": an IPv6 socket
// could not be registered. libtirpc's own pmap_set(), which xinetd calls, goes the same way
// (rpcb_set over the local transport).

import * as net from 'node:net';
import {
  decodeReply,
  decodeRpcbList,
  encodeCall,
  encodeRpcb,
  frameRecord,
  RPCBPROC_DUMP,
  RPCBPROC_SET,
  RPCBPROC_UNSET,
  RPCBPROG,
  RPCBVERS,
  takeRecord,
  XdrReader,
  XdrWriter,
  type Rpcb,
} from './rpc-xdr.js';

/** rpcbind's local socket on Debian (rpcbind.socket, or rpcbind itself, makes it). */
export const RPCBIND_SOCKET = '/run/rpcbind.sock';
/** How long one call may take before it counts as rpcbind not answering. */
export const RPCBIND_TIMEOUT_MS = 3000;

/** What the registrar asks of rpcbind (rpc-registrar.ts); a failed call rejects. */
export interface RpcbindCalls {
  /** Where rpcbind is asked, for log lines. */
  readonly where: string;
  set(r: Rpcb): Promise<boolean>;
  unset(r: Rpcb): Promise<boolean>;
  dump(): Promise<Rpcb[]>;
}

let nextXid = (Date.now() ^ (process.pid << 16)) >>> 0;

/** One call: connect, send, read the one reply record, close. */
function call(path: string, proc: number, args: Buffer, timeoutMs: number): Promise<Buffer> {
  const xid = (nextXid = (nextXid + 1) >>> 0);
  return new Promise<Buffer>((resolve, reject) => {
    const sock = net.connect(path);
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (err: Error | null, out?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err !== null) reject(err);
      else resolve(out ?? Buffer.alloc(0));
    };
    const timer = setTimeout(() => finish(Object.assign(new Error(`no answer in ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    sock.on('connect', () => sock.write(frameRecord(encodeCall(xid, RPCBPROG, RPCBVERS, proc, args))));
    sock.on('error', (err) => finish(err));
    sock.on('end', () => finish(new Error('rpcbind closed the connection without answering')));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        const rec = takeRecord(buf);
        if (rec === null) return;
        const reply = decodeReply(rec.record);
        if (reply.xid !== xid) {
          finish(new Error(`reply to another call (xid ${reply.xid}, not ${xid})`));
          return;
        }
        if (!reply.ok) {
          finish(new Error(reply.error));
          return;
        }
        finish(null, rec.record.subarray(rec.record.length - reply.results.remaining));
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/** rpcbind's version 4 calls over its unix socket at `path`. */
export function rpcbindClient(path = RPCBIND_SOCKET, timeoutMs = RPCBIND_TIMEOUT_MS): RpcbindCalls {
  const boolCall = async (proc: number, r: Rpcb): Promise<boolean> => {
    const results = await call(path, proc, encodeRpcb(r), timeoutMs);
    return results.length >= 4 && results.readUInt32BE(0) === 1;
  };
  return {
    where: path,
    set: (r) => boolCall(RPCBPROC_SET, r),
    unset: (r) => boolCall(RPCBPROC_UNSET, r),
    dump: async () => decodeRpcbList(new XdrReader(await call(path, RPCBPROC_DUMP, new XdrWriter().bytes(), timeoutMs))),
  };
}
