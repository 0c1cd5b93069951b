// A stand-in for systemd's notification socket (NOTIFY_SOCKET) for the tests: a python3 unix
// datagram listener that reads each message with the sender's credentials (SO_PASSCRED), as
// systemd does, and closes the descriptor of systemd-notify's BARRIER=1 so that it returns.

import type { TestContext } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './net.js';

const FAKE_SYSTEMD = String.raw`
import array, json, os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
size = array.array("i").itemsize
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(16 * size))
    mono = time.monotonic_ns() // 1000
    pid = None
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % size])
            for fd in fds:
                os.close(fd)  # systemd-notify's BARRIER=1 waits for this
    print(json.dumps({"pid": pid, "mono": mono, "message": msg.decode("utf-8", "replace")}), flush=True)
`;

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

/** Starts the listener on DIR/notify.sock; it is stopped when the test ends. */
export async function fakeSystemd(t: TestContext, dir: string): Promise<FakeSystemd> {
  const path = join(dir, 'notify.sock');
  const child: ChildProcess = spawn('python3', ['-c', FAKE_SYSTEMD, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    child.kill();
  });
  const fake: FakeSystemd = { path, messages: [] };
  let listening = false;
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, nl)) as { listening?: boolean; pid: number | null; mono: number; message: string };
      buf = buf.slice(nl + 1);
      if (line.listening === true) {
        listening = true;
        continue;
      }
      const vars = Object.fromEntries(
        line.message
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      if (vars['BARRIER'] === undefined) fake.messages.push({ pid: line.pid, mono: line.mono, vars });
    }
  });
  await waitFor(() => (listening ? true : undefined), 5000, 'the fake systemd to listen');
  return fake;
}
