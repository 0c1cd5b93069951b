// The remote end of a connection or datagram, as the server saw it.

export interface Peer {
  /** Numeric address as the socket reports it (IPv4 peers on a dual-stack socket: `::ffff:a.b.c.d`). */
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}
