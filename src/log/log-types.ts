// The log vocabulary: events the server emits; log.ts turns them into xinetd lines or JSON.

import type { DaemonLevel, DaemonMessage } from '../message-codes.js';
import type { Peer } from '../peer.js';
import type { Service } from '../table.js';

export type { DaemonLevel };

export type LogEvent =
  | { kind: 'START'; service: Service; pid: number | null; peer: Peer | null }
  | {
      kind: 'EXIT';
      service: Service;
      pid: number;
      /** Exit status, or null when killed by a signal. */
      status: number | null;
      signal: number | null;
      durationSeconds: number;
    }
  | { kind: 'FAIL'; service: Service; reason: string; peer: Peer | null }
  | { kind: 'TRAFFIC'; service: Service; inBytes: number; outBytes: number }
  | { kind: 'USERID'; service: Service; text: string }
  /** A daemon message (start-up, reload, errors): a code of message-codes.ts, the tag xinetd prints in braces. */
  | DaemonMessage;

export interface EventLog {
  log(event: LogEvent): void;
  /** Flushes and closes every transport. */
  close(): Promise<void>;
}
