// The bound UDP socket of an in-process datagram service (echo, daytime... over UDP): Node's own
// dgram socket, read by the daemon. I/O; the Listener (listener.ts) owns it.

import * as dgram from 'node:dgram';

/**
 * Binds a UDP socket at host:port (SO_REUSEADDR, exclusive) that reports each datagram to
 * `onMessage` and, once bound, each error to `onError`; rejects with the bind error.
 */
export function openUdp(
  host: string,
  family: 4 | 6,
  port: number,
  v6only: boolean,
  onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo) => void,
  onError: (err: NodeJS.ErrnoException) => void,
): Promise<dgram.Socket> {
  return new Promise<dgram.Socket>((resolve, reject) => {
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: true, ipv6Only: family === 6 && v6only });
    const onBindError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onBindError);
    socket.on('message', onMessage);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', onBindError);
      socket.on('error', onError);
      resolve(socket);
    });
  });
}
