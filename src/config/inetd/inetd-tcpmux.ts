// The service field of a TCPMUX entry in a FreeBSD or GNU inetutils inetd.conf (pure), as their
// getconfigent reads it: `tcpmux/NAME` is a TCPMUX service named NAME, `tcpmux/+NAME` a
// TCPMUXPLUS one (the daemon answers "+Go" for it). The socket must be stream and the protocol
// tcp (FreeBSD: `tcp` exactly; GNU: any protocol starting with `tcp`, as its strncmp takes
// `tcp6` or `tcp4`), or the inetd skips the entry ("bad protocol for tcpmux service", "bad
// socket type for tcpmux service"). OpenBSD's inetd has no TCPMUX: that dialect never calls this.

import type { SocketType } from '../../table.js';

export interface MuxServiceField {
  kind: 'plain' | 'plus';
  name: string;
}

/** The TCPMUX service `text` names, null when it is not a `tcpmux/` field, or what is wrong. */
export function readMuxServiceField(
  text: string,
  protoWritten: string | null,
  socketType: SocketType | null,
  dialect: 'freebsd' | 'gnu',
): MuxServiceField | { problem: string } | null {
  if (!text.startsWith('tcpmux/')) return null;
  const rest = text.slice('tcpmux/'.length);
  const kind = rest.startsWith('+') ? 'plus' : 'plain';
  const name = kind === 'plus' ? rest.slice(1) : rest;
  const inetd = dialect === 'gnu' ? 'GNU inetutils inetd' : 'FreeBSD inetd';
  if (name === '') return { problem: 'a TCPMUX service needs a name after `tcpmux/`' };
  const tcp = dialect === 'gnu' ? protoWritten?.startsWith('tcp') : protoWritten === 'tcp';
  if (protoWritten !== null && tcp !== true)
    return {
      problem: `bad protocol for tcpmux service ${name}: ${inetd} takes \`tcp\`${dialect === 'gnu' ? ' (tcp4, tcp6...)' : ''} only and skips this entry`,
    };
  if (socketType !== null && socketType !== 'stream')
    return { problem: `bad socket type for tcpmux service ${name}: ${inetd} takes \`stream\` only and skips this entry` };
  return { kind, name };
}
