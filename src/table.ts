// The service table: THE contract between the config loaders and the server.
//
// Loaders (xinetd.conf / xinetd.d, and every inetd.conf dialect) produce a
// ServiceTable; everything downstream (check, dump, listeners, admission,
// spawning, logging) reads only these types. No behaviour lives here.
//
// Attribute names are xinetd's (snake_case) so that `--dump` output reads like
// the configuration it came from.

import type { Diagnostic } from './diagnostics.js';

export type SocketType = 'stream' | 'dgram' | 'raw' | 'seqpacket';

/** Where a service was defined: its file and the line of its `service` keyword (or inetd line). */
export interface SourceRef {
  file: string;
  line: number;
}

/** `log_type`: FILE path [soft [hard]] or SYSLOG facility [level]. Sizes in bytes, null = no limit. */
export type LogTarget = { kind: 'file'; path: string; soft: number | null; hard: number | null } | { kind: 'syslog'; facility: string; level: string };

/** One `access_times` interval, in minutes since midnight, start < end. */
export interface TimeInterval {
  start: number;
  end: number;
}

/** rlimit value: a number (bytes, or seconds for cpu, or a count for files), or 'unlimited'. */
export type RlimitValue = number | 'unlimited';

export interface Rlimits {
  as?: RlimitValue;
  cpu?: RlimitValue;
  data?: RlimitValue;
  rss?: RlimitValue;
  stack?: RlimitValue;
  files?: RlimitValue;
}

/** Whose counting rule an inetd.conf `.N` rate follows (the rules are in limits.ts INETD_RATE_RULES). */
export type InetdRateFlavour = 'openbsd' | 'gnu';

/**
 * A per-minute spawn rate as classic inetds have it (`wait|nowait.N`, and the global default
 * FreeBSD applies too): too many starts within `per_seconds` turn the service off for
 * `shutdown_seconds` ("server failing (looping)"). How many is too many is the flavour's rule:
 * OpenBSD (and Debian's openbsd-inetd, busybox, FreeBSD) trip at the N-th start, GNU inetutils
 * at the (N+1)-th, with its own default still tripping on top (limits.ts INETD_RATE_RULES).
 */
export interface InetdRate {
  flavour: InetdRateFlavour;
  /** The limit in force: the `.N` of the wait field, or the flavour's default when none counts. */
  max: number;
  /** Whether `max` is a `.N` written in the file (false: the flavour's default). */
  written: boolean;
  per_seconds: number;
  shutdown_seconds: number;
}

/**
 * What a client meets when `instances` servers of the service already run: 'refuse' (xinetd:
 * FAIL service_limit, connection closed) or 'queue' (FreeBSD inetd's max-child: the socket is
 * not accepted on while at the limit, so the client waits in the kernel's listen queue and is
 * served when a server ends; nothing is logged).
 */
export type InstancesAtLimit = 'refuse' | 'queue';

/**
 * The socket file of a unix-domain service (inetd.conf protocol `unix`): its path (the service
 * field), and the owner, group and mode it is given once bound (FreeBSD's `:user:group:mode:`
 * prefix; without one, the inetd's own default: FreeBSD 0200, OpenBSD 0666, owned by the daemon).
 */
export interface UnixSocket {
  path: string;
  /** User name or number; null = the daemon's user. */
  owner: string | null;
  /** Group name or number; null = the daemon's group. */
  group: string | null;
  mode: number;
}

/** Which syntax a service came from ('inetd': an OpenBSD/Linux inetd.conf; GNU inetutils' is read only with --dialect gnu). */
export type Dialect = 'xinetd' | 'inetd' | 'inetd-freebsd' | 'inetd-gnu';

export interface Service {
  /** Unique identifier (`id`, defaults to the service name). */
  id: string;
  /** The service name (`service NAME`, or the inetd.conf service field). */
  name: string;
  /**
   * False when the configuration turns the service off: `disable = yes`, the `disabled`
   * list, absent from a non-empty `enabled` list, or an error that makes xinetd drop it.
   * A missing server program or unknown user does NOT clear it: they become `problems`.
   */
  enabled: boolean;
  /** Why this service cannot run as configured (missing program, unknown user...). */
  problems: string[];
  dialect: Dialect;

  socket_type: SocketType;
  protocol: string; // 'tcp' | 'udp' | ... as named in /etc/protocols
  /** Port number; null only for services that have none (e.g. RPC before registration, unix). */
  port: number | null;
  wait: boolean;
  user: string | null;
  group: string | null;
  /** `groups = yes`: the child gets the user's supplementary groups. */
  groups: boolean;

  /** Absolute path of the program; null for internal services and redirects. */
  server: string | null;
  /** argv the child sees, argv[0] included (basename of server, or first word with NAMEINARGS). */
  server_argv: string[];

  /** `type` values: INTERNAL, UNLISTED, RPC, TCPMUX, TCPMUXPLUS, SPECIAL. */
  type: string[];
  /** `flags` values as written (canonical upper-case spelling, IPv4/IPv6 as xinetd spells them). */
  flags: string[];

  /** null = attribute not set (everyone allowed); [] = set empty (nobody). Entries as written. */
  only_from: string[] | null;
  no_access: string[] | null;
  access_times: TimeInterval[];

  /** null = UNLIMITED. */
  instances: number | null;
  /** What the `instances` limit does to a client past it (see InstancesAtLimit). */
  instances_at_limit: InstancesAtLimit;
  per_source: number | null;
  /**
   * [connections per second, seconds off]; xinetd's implicit default is [50, 10].
   * A rate of 0 means no cps limit: classic inetd services get [0, 0] (their `.N` rate is `inetd_rate`).
   */
  cps: [number, number];
  max_load: number | null;
  /** Minutes; 'FOREVER' | 'NEVER'; null when unset. Used with flags SENSOR. */
  deny_time: number | 'FOREVER' | 'NEVER' | null;
  /** tsinetd extension: per-source token bucket [rate per second, burst]; null when unset. */
  per_source_cps: [number, number] | null;
  /** Classic inetd `.N` rate (OpenBSD/GNU/busybox, FreeBSD's default); null for xinetd services. */
  inetd_rate: InetdRate | null;
  /** FreeBSD `/max-connections-per-ip-per-minute`; null when unset or 0. */
  per_source_per_minute: number | null;

  /** Address to bind (`bind`/`interface`); null = all addresses. */
  bind: string | null;
  /** Explicit IPV6_V6ONLY choice (`v6only`); null = xinetd's default. */
  v6only: boolean | null;
  /**
   * IPv4 and IPv6 on two sockets, an AF_INET one and a v6only AF_INET6 one, where there would be
   * one dual-stack socket: inetd.conf `tcp`/`udp` lines of OpenBSD (and Debian) inetd, which
   * opens two, so that a program serving an IPv4 client gets an AF_INET socket. Applies when
   * `bind` is unset or a host name; false for xinetd services.
   */
  family_sockets: boolean;
  redirect: { host: string; port: number } | null;
  /** The socket file of a unix-domain service (protocol `unix`); null for the others. */
  unix: UnixSocket | null;

  log_type: LogTarget | null;
  log_on_success: string[];
  log_on_failure: string[];

  /** `env` entries as NAME=value. */
  env: string[];
  /** null = not set (the whole environment is passed); [] = set empty (nothing passed). */
  passenv: string[] | null;

  banner: string | null;
  banner_success: string | null;
  banner_fail: string | null;

  nice: number | null;
  /** Octal value as a number (e.g. 0o022); null = xinetd's default. */
  umask: number | null;
  rlimits: Rlimits;
  libwrap: string | null;

  rpc_version: [number, number] | null;
  rpc_number: number | null;

  source: SourceRef;
}

/** How an inetd.conf file was read (inetd-dialect.ts decides, or --dialect says). */
export type InetdFileDialect = 'openbsd' | 'freebsd' | 'gnu';

/** The result of loading a configuration. */
export interface ServiceTable {
  services: Service[];
  diagnostics: Diagnostic[];
  /** Every config file read, in reading order (used by reload and for the world-writable check). */
  files: string[];
  /** The dialect each inetd.conf file was read as, in reading order (absent: none was read). */
  inetdDialects?: Array<{ file: string; dialect: InetdFileDialect }>;
}
