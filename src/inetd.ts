// Classic inetd.conf (OpenBSD/netkit/GNU/busybox and FreeBSD dialects) → Services. (Stub.)
import type { Diagnostic } from './diagnostics.js';
import type { Service } from './table.js';

export type InetdDialect = 'auto' | 'openbsd' | 'freebsd';

export interface InetdLoadResult {
  services: Service[];
  diagnostics: Diagnostic[];
}

/** Parses one inetd.conf file. `text` defaults to the file's contents. Never throws. */
export function loadInetdFile(path: string, text?: string, dialect: InetdDialect = 'auto'): InetdLoadResult {
  void path;
  void text;
  void dialect;
  return { services: [], diagnostics: [] };
}
