// Options of one tsinetd run, as parsed from the command line (see cli.ts).

import { existsSync } from 'node:fs';
import { DEFAULT_BIND_RETRY_MS } from '../serve/bind-retry.js';
import type { LoadRequest } from '../config/config.js';
import type { InetdDialect } from '../config/inetd/inetd.js';
import type { ListenAddress } from '../ops/metrics-http.js';

export type LogFormat = 'text' | 'json';

export interface DaemonOptions {
  /** -f: the xinetd configuration file. */
  configFile: string;
  /** Whether -f was given (false: configFile is the default, /etc/xinetd.conf). */
  configFileGiven: boolean;
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
    configFileGiven: false,
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
 *
 * A run with --inetd files and neither -f nor -inetd_compat is an inetd's replacement: an absent
 * /etc/xinetd.conf is then skipped without a word, as inetd has none (with -f, or in xinetd's
 * -inetd_compat mode, a missing xinetd configuration stays an error, as for xinetd).
 */
export function loadRequestOf(options: DaemonOptions, exists: (path: string) => boolean = existsSync): LoadRequest {
  const compat = options.inetdCompat && exists(INETD_COMPAT_FILE);
  const inetdOnly = !options.configFileGiven && !options.inetdCompat && options.inetdFiles.length > 0 && !exists(options.configFile);
  return {
    configFile: inetdOnly ? null : options.configFile,
    inetdFiles: compat ? [...options.inetdFiles, INETD_COMPAT_FILE] : [...options.inetdFiles],
    inetdDialect: options.inetdDialect,
    ...(compat ? { inetdCompatFile: INETD_COMPAT_FILE } : {}),
  };
}

// ---- the environment ----------------------------------------------------------------------

/**
 * What the TSINETD_* environment variables ask for (man page tsinetd.8, ENVIRONMENT). fromEnv()
 * alone reads them; the daemon reads them once at start and passes this object down.
 */
export interface EnvOptions {
  /** TSINETD_SPAWNER=node|native: forces a spawner (any other value: the daemon chooses). */
  spawner: 'node' | 'native' | null;
  /** TSINETD_SPAWND: the one helper binary to run, instead of looking for one. */
  spawnd: string | null;
  /** TSINETD_STATIC=1: link a helper built with $CC statically. */
  staticHelper: boolean;
  /** TSINETD_HELPER_ACCEPT=0: the native helper never accepts for the daemon. */
  helperAccept: boolean;
  /** TSINETD_SPAWND_FORK=1: the helper forks servers instead of clone(CLONE_VM | CLONE_VFORK). */
  spawndFork: boolean;
  /** TSINETD_IDENT_PORT: the port USERID lookups ask instead of 113 (undefined: 113). */
  identPort: number | undefined;
  /** TSINETD_BIND_RETRY_MS: the first pause after a failed bind (default 1000 ms). */
  bindRetryMs: number;
  /** TSINETD_SYSLOG_IDENT: the syslog ident and -filelog program name (null: "xinetd"). */
  syslogIdent: string | null;
  /** TSINETD_SYSLOG_SOCKET: the syslog socket (null: /dev/log). */
  syslogSocket: string | null;
  /** TSINETD_LOADAVG_FILE: a file read instead of /proc/loadavg (null: /proc/loadavg). */
  loadavgFile: string | null;
  /** TSINETD_V8_DEFAULTS=1: keep V8's own heap settings (heap-tuning.ts). */
  keepV8Defaults: boolean;
  /** TSINETD_DAEMON_CHILD=1: this process is the detached copy a daemonizing start made (internal). */
  daemonChild: boolean;
  /** TSINETD_RPCBIND_SOCKET: rpcbind's unix socket (null: /run/rpcbind.sock). */
  rpcbindSocket: string | null;
  /** TSINETD_RPCBIND_CHECK_MS: how often rpcbind's table is checked for lost mappings (undefined: 10 s). */
  rpcbindCheckMs: number | undefined;
  /** TSINETD_NODE_INTERNALS=0: run as on a Node without the internals uv-handles.ts uses (its fallbacks). */
  nodeInternals: boolean;
}

/** The variable behind each field of EnvOptions. */
export const ENV_NAMES = {
  spawner: 'TSINETD_SPAWNER',
  spawnd: 'TSINETD_SPAWND',
  staticHelper: 'TSINETD_STATIC',
  helperAccept: 'TSINETD_HELPER_ACCEPT',
  spawndFork: 'TSINETD_SPAWND_FORK',
  identPort: 'TSINETD_IDENT_PORT',
  bindRetryMs: 'TSINETD_BIND_RETRY_MS',
  syslogIdent: 'TSINETD_SYSLOG_IDENT',
  syslogSocket: 'TSINETD_SYSLOG_SOCKET',
  loadavgFile: 'TSINETD_LOADAVG_FILE',
  keepV8Defaults: 'TSINETD_V8_DEFAULTS',
  daemonChild: 'TSINETD_DAEMON_CHILD',
  rpcbindSocket: 'TSINETD_RPCBIND_SOCKET',
  rpcbindCheckMs: 'TSINETD_RPCBIND_CHECK_MS',
  nodeInternals: 'TSINETD_NODE_INTERNALS',
} as const satisfies Record<keyof EnvOptions, `TSINETD_${string}`>;

/** The TSINETD_* variables of `env`, each as its reader has always taken it (an empty value is unset). */
export function fromEnv(env: NodeJS.ProcessEnv = process.env): EnvOptions {
  const text = (k: keyof EnvOptions): string | null => {
    const v = env[ENV_NAMES[k]];
    return v !== undefined && v !== '' ? v : null;
  };
  const spawner = text('spawner');
  const identPort = text('identPort');
  const bindRetry = text('bindRetryMs');
  const rpcbindCheck = text('rpcbindCheckMs');
  return {
    spawner: spawner === 'node' || spawner === 'native' ? spawner : null,
    spawnd: text('spawnd'),
    staticHelper: text('staticHelper') === '1',
    helperAccept: text('helperAccept') !== '0',
    spawndFork: text('spawndFork') === '1',
    identPort: identPort !== null && /^\d{1,5}$/.test(identPort) && Number(identPort) >= 1 && Number(identPort) <= 65535 ? Number(identPort) : undefined,
    bindRetryMs: bindRetry !== null && /^\d+$/.test(bindRetry) ? Math.max(1, Number(bindRetry)) : DEFAULT_BIND_RETRY_MS,
    syslogIdent: text('syslogIdent'),
    syslogSocket: text('syslogSocket'),
    loadavgFile: text('loadavgFile'),
    keepV8Defaults: text('keepV8Defaults') === '1',
    daemonChild: text('daemonChild') === '1',
    rpcbindSocket: text('rpcbindSocket'),
    rpcbindCheckMs: rpcbindCheck !== null && /^\d+$/.test(rpcbindCheck) ? Math.max(10, Number(rpcbindCheck)) : undefined,
    nodeInternals: text('nodeInternals') !== '0',
  };
}
