// The contract between connection handling (socket I/O) and admission (pure decisions).

import type { Peer } from './peer.js';
import type { Service } from './table.js';

/** xinetd's FAIL reasons (xinetd.log(5)), plus tsinetd's own per-source rate. */
export type FailReason =
  | 'address'
  | 'time'
  | 'service_limit'
  | 'per_source_limit'
  | 'process_limit'
  | 'load'
  | 'connections per second'
  | 'per_source_cps'
  | 'sensor'
  | 'inetd_rate'
  | 'fork';

export type Decision =
  | { allow: true }
  | {
      allow: false;
      reason: FailReason;
      /** When set, the whole service must stop listening for this many seconds (cps, inetd rate). */
      suspendSeconds?: number;
      /** Human-readable detail for the daemon log (not part of the FAIL line). */
      detail?: string;
    };

/** What connection handling asks of admission; one instance per daemon, kept across reloads. */
export interface Admission {
  /** Decides whether `peer` may use `service` now. May be async (e.g. reverse DNS for `.domain`). */
  admit(service: Service, peer: Peer): Decision | Promise<Decision>;
  /** A server (or internal handler) for this peer started / finished: instance and per-source accounting. */
  started(service: Service, peer: Peer): void;
  finished(service: Service, peer: Peer): void;
  /**
   * Whether a decision for `service` depends on the client's address now: a client whose
   * address cannot be known (a datagram without the spawn helper) is then refused rather than
   * let through. Absent: addressChecks() of admission.ts decides.
   */
  needsAddress?(service: Service): boolean;
}

/** Admits everyone and counts nothing: used until admission is wired in, and by tests. */
export const allowAll: Admission = {
  admit: () => ({ allow: true }),
  started: () => {},
  finished: () => {},
  needsAddress: () => false,
};
