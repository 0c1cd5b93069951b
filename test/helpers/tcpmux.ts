// A TCPMUX (RFC 1078) client for the tests, and the configuration they serve it with: the
// internal tcpmux service on a port of the test's, and TCPMUX services running
// fixtures/servers/mux-line (which reads one line and reports it).

import { join } from 'node:path';
import { FIXTURES, TEST_USER, type Attrs, type ServiceDef } from './daemon.js';
import { tcpRequest, type TcpReply } from './net.js';

export const MUX_LINE = join(FIXTURES, 'mux-line');

/**
 * Connects (from `localAddress`), sends `request` in one write and reads until the server
 * closes; `then` is sent as soon as the first bytes come back (what a client says after the
 * "+" reply, which must reach the program).
 */
export function muxExchange(port: number, request: string | Buffer, opts: { localAddress?: string; then?: string } = {}): Promise<TcpReply> {
  return tcpRequest({ port, send: request, end: false, ...opts });
}

/** The internal tcpmux service on `port` (xinetd's own example, with a port of the test's). */
export function tcpmuxService(port: number, extra: Attrs = {}): ServiceDef {
  return {
    name: 'tcpmux',
    attrs: { type: 'INTERNAL UNLISTED', id: 'tcpmux', socket_type: 'stream', protocol: 'tcp', port: String(port), wait: 'no', ...extra },
  };
}

/** A TCPMUX or TCPMUXPLUS service running mux-line (`answer`: it gives the "+" reply itself). */
export function muxLineService(name: string, type: 'TCPMUX' | 'TCPMUXPLUS', extra: Attrs = {}): ServiceDef {
  return {
    name,
    attrs: {
      type: `${type} UNLISTED`,
      socket_type: 'stream',
      protocol: 'tcp',
      wait: 'no',
      user: TEST_USER,
      server: MUX_LINE,
      ...(type === 'TCPMUX' ? { server_args: 'answer' } : {}),
      ...extra,
    },
  };
}
