// A stand-in for systemd's notification socket (NOTIFY_SOCKET) for the tests: a unix datagram
// listener (unix-dgram.ts) that, as systemd does, reads each message with the sender's
// credentials and closes the descriptor of systemd-notify's BARRIER=1 so that it returns.

import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { listenUnixDgram, type Datagram } from './unix-dgram.js';

export interface Notification {
  /** The sender's pid from its credentials. */
  pid: number | null;
  /** CLOCK_MONOTONIC (µs) when it arrived. */
  mono: number;
  vars: Record<string, string>;
}

export interface FakeSystemd {
  path: string;
  /** Every message but systemd-notify's BARRIER=1, in order. */
  messages: Notification[];
}

/** The VAR=value lines of a notification. */
function notificationVars(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** Starts the listener on DIR/notify.sock; it is stopped when the test ends. */
export async function fakeSystemd(t: TestContext, dir: string): Promise<FakeSystemd> {
  const fake: FakeSystemd = { path: join(dir, 'notify.sock'), messages: [] };
  await listenUnixDgram(
    t,
    fake.path,
    (d: Datagram) => {
      const vars = notificationVars(d.text);
      if (vars['BARRIER'] === undefined) fake.messages.push({ pid: d.pid, mono: d.mono, vars });
    },
    5000,
  );
  return fake;
}
