// Options of one tsinetd run, as parsed from the command line (see cli.ts).

import { existsSync } from 'node:fs';
import type { LoadRequest } from './config.js';
import type { InetdDialect } from './inetd.js';
import type { ListenAddress } from './metrics-http.js';

export type LogFormat = 'text' | 'json';

export interface DaemonOptions {
  /** -f: the xinetd configuration file. */
  configFile: string;
  /** --inetd FILE (repeatable): classic inetd.conf files to load, any dialect. */
  inetdFiles: string[];
  /** -inetd_compat: also read /etc/inetd.conf after the xinetd configuration. */
  inetdCompat: boolean;
  /** --dialect: how inetd.conf files are read ('auto': decided per file from its contents). */
  inetdDialect: InetdDialect;
  /** -d: debug mode (implies foreground, debug messages). */
  debug: boolean;
  /** -dontfork: stay in the foreground (implies -stayalive). */
  dontfork: boolean;
  /** -stayalive: keep running even when no service is left. */
  stayalive: boolean;
  pidfile: string | null;
  /** -filelog FILE: daemon messages to this file. */
  filelog: string | null;
  /** -syslog FACILITY: daemon messages to syslog. */
  syslog: string | null;
  /** -limit N: global limit on running servers (process_limit). */
  limit: number | null;
  /** -logprocs N: limit on concurrent identd lookups (USERID). */
  logprocs: number | null;
  /** -cc N: consistency check every N seconds. */
  cc: number | null;
  /** -reuse: accepted for compatibility (SO_REUSEADDR is always set). */
  reuse: boolean;
  logFormat: LogFormat;
  /** Where SIGUSR1 writes the text dump (xinetd: /var/run/xinetd.dump). */
  dumpFile: string;
  /** --metrics ADDRESS: where the Prometheus endpoint listens (off when null). */
  metrics: ListenAddress | null;
  /** --ready-fd N: the descriptor that gets "READY\n" once every listener is bound. */
  readyFd: number | null;
  /** TCP wrappers' rule files (--hosts-allow, --hosts-deny; libwrap's /etc/hosts.allow, /etc/hosts.deny). */
  hostsAllow: string;
  hostsDeny: string;
}

export function defaultOptions(): DaemonOptions {
  return {
    configFile: '/etc/xinetd.conf',
    inetdFiles: [],
    inetdCompat: false,
    inetdDialect: 'auto',
    debug: false,
    dontfork: false,
    stayalive: false,
    pidfile: null,
    filelog: null,
    syslog: null,
    limit: null,
    logprocs: null,
    cc: null,
    reuse: false,
    logFormat: 'text',
    dumpFile: '/var/run/xinetd.dump',
    metrics: null,
    readyFd: null,
    hostsAllow: '/etc/hosts.allow',
    hostsDeny: '/etc/hosts.deny',
  };
}

/** The file -inetd_compat reads after the xinetd configuration. */
export const INETD_COMPAT_FILE = '/etc/inetd.conf';

/**
 * What a run reads: the xinetd configuration, the --inetd files, then /etc/inetd.conf with
 * -inetd_compat when it exists (real xinetd skips an absent one without a word, measured). The
 * one decision for the daemon (at start and at every reload) and for --check, --dump and
 * --explain. `exists` is the file system's unless a test gives its own.
 */
export function loadRequestOf(options: DaemonOptions, exists: (path: string) => boolean = existsSync): LoadRequest {
  const compat = options.inetdCompat && exists(INETD_COMPAT_FILE);
  return {
    configFile: options.configFile,
    inetdFiles: compat ? [...options.inetdFiles, INETD_COMPAT_FILE] : [...options.inetdFiles],
    inetdDialect: options.inetdDialect,
    ...(compat ? { inetdCompatFile: INETD_COMPAT_FILE } : {}),
  };
}
