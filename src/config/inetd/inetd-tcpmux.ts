// The service field of a FreeBSD inetd.conf TCPMUX entry (pure), as getconfigent reads it:
// `tcpmux/NAME` is a TCPMUX service named NAME, `tcpmux/+NAME` a TCPMUXPLUS one (the daemon
// answers "+Go" for it); the protocol must be `tcp` and the socket stream, or FreeBSD inetd
// skips the entry ("bad protocol for tcpmux service", "bad socket type for tcpmux service").
// OpenBSD's inetd has no TCPMUX: the other dialects never call this.

import type { SocketType } from '../../table.js';

export interface MuxServiceField {
  kind: 'plain' | 'plus';
  name: string;
}

/** The TCPMUX service `text` names, null when it is not a `tcpmux/` field, or what is wrong. */
export function readMuxServiceField(text: string, protoWritten: string | null, socketType: SocketType | null): MuxServiceField | { problem: string } | null {
  if (!text.startsWith('tcpmux/')) return null;
  const rest = text.slice('tcpmux/'.length);
  const kind = rest.startsWith('+') ? 'plus' : 'plain';
  const name = kind === 'plus' ? rest.slice(1) : rest;
  if (name === '') return { problem: 'a TCPMUX service needs a name after `tcpmux/`' };
  if (protoWritten !== null && protoWritten !== 'tcp')
    return { problem: `bad protocol for tcpmux service ${name}: FreeBSD inetd takes \`tcp\` only and skips this entry` };
  if (socketType !== null && socketType !== 'stream')
    return { problem: `bad socket type for tcpmux service ${name}: FreeBSD inetd takes \`stream\` only and skips this entry` };
  return { kind, name };
}
