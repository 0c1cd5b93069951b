// The contract between connection handling (socket I/O) and admission (pure decisions).

import type { WrapOption } from './wrappers/hosts-options.js';
import type { DaemonLevel } from '../log/log-types.js';
import type { Peer } from '../peer.js';
import type { Service } from '../table.js';

/**
 * Every reason a FAIL line can give: xinetd's (xinetd.log(5)), plus tsinetd's own per-source
 * rate, the classic inetd rate, and `fork` (a server that could not be started). A SENSOR hit
 * is `address`, as xinetd writes it. tsinetd.log(5) lists exactly these (a test checks it).
 */
export const FAIL_REASONS = [
  'address',
  'libwrap',
  'time',
  'service_limit',
  'per_source_limit',
  'process_limit',
  'load',
  'connections per second',
  'per_source_cps',
  'inetd_rate',
  'fork',
  'internal_error',
] as const;

export type FailReason = (typeof FAIL_REASONS)[number];

/**
 * What TCP wrappers granted with: the options of the rule that matched, which change how the
 * server starts (twist, spawn, banners, umask, nice, keepalive, linger, setenv).
 */
export interface WrapGrant {
  /** The daemon name matched (for %d and banners). */
  daemon: string;
  options: readonly WrapOption[];
  /** The client's host name and user when the check looked them up (for % expansions). */
  clientHostname: string | null;
  clientUser: string | null;
  /** Our end of the connection. */
  local: { address: string; port: number };
}

export type Decision =
  | { allow: true; wrap?: WrapGrant }
  | {
      allow: false;
      reason: FailReason;
      /** When set, the whole service must stop listening for this many seconds (cps, inetd rate). */
      suspendSeconds?: number;
      /** Human-readable detail for the daemon log (not part of the FAIL line). */
      detail?: string;
      /** The level of the detail line when it is not the default (TCP wrappers' `severity`). */
      level?: DaemonLevel;
    };

/** The one admitting Decision without a grant (shared, never mutated). */
export const ALLOW: Decision = { allow: true };

/** The local end of a connection, when the listener knows it (TCP wrappers need it). */
export interface LocalEnd {
  address: string;
  port: number;
}

/** What connection handling asks of admission; one instance per daemon, kept across reloads. */
export interface Admission {
  /** Decides whether `peer` may use `service` now. May be async (e.g. reverse DNS for `.domain`). */
  admit(service: Service, peer: Peer, local?: LocalEnd): Decision | Promise<Decision>;
  /**
   * The checks xinetd's forked child runs for a service whose connection another service hands
   * over (a TCPMUX service reached through tcpmux): the global no_access list, only_from and
   * no_access, TCP wrappers. No rate, limit or time is checked, and nothing is counted: those
   * belong to the service that accepted the connection.
   */
  handedOver(service: Service, peer: Peer, local?: LocalEnd): Decision | Promise<Decision>;
  /** A server (or internal handler) for this peer started / finished: instance and per-source accounting. */
  started(service: Service, peer: Peer): void;
  finished(service: Service, peer: Peer): void;
  /**
   * Whether a decision for `service` depends on the client's address now: a client whose
   * address cannot be known (a datagram without the spawn helper) is then refused rather than
   * let through.
   */
  needsAddress(service: Service): boolean;
}

/** Admits everyone and counts nothing: used until admission is wired in, and by tests. */
export const allowAll: Admission = {
  admit: () => ({ allow: true }),
  handedOver: () => ({ allow: true }),
  started: () => {},
  finished: () => {},
  needsAddress: () => false,
};
