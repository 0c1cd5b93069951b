// A unix datagram socket for the tests to receive what tsinetd sends to a local daemon: syslog
// messages (through logger(1)) and systemd notifications (through systemd-notify). Node cannot
// bind an AF_UNIX datagram socket, so a small python3 program binds it and prints one JSON line
// per datagram: the text, the sender's pid from its credentials (SO_PASSCRED, as systemd reads
// them) and CLOCK_MONOTONIC at arrival. Descriptors passed along with a datagram are closed at
// once: systemd-notify's BARRIER=1 waits for that.

import { spawn, spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { waitFor } from './net.js';

const LISTENER = String.raw`
import array, json, os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
size = array.array("i").itemsize
while True:
    msg, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(16 * size))
    mono = time.monotonic_ns() // 1000
    pid = None
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % size])
            for fd in fds:
                os.close(fd)
    print(json.dumps({"pid": pid, "mono": mono, "text": msg.decode("utf-8", "replace")}), flush=True)
`;

export interface Datagram {
  /** The payload, decoded as UTF-8. */
  text: string;
  /** The sender's pid from its credentials. */
  pid: number | null;
  /** CLOCK_MONOTONIC (µs) when it arrived. */
  mono: number;
}

interface ListenerLine {
  listening?: boolean;
  pid?: number | null;
  mono?: number;
  text?: string;
}

const runs = (cmd: string, args: string[]): { ok: boolean; stdout: string } => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  const stdout = (r.stdout as string | null) ?? ''; // null when the program could not run, whatever the typings say
  return { ok: r.status === 0, stdout };
};

/** Why the listener cannot run on this machine (no python3 with AF_UNIX), or false. */
export function unixDgramUnavailable(): string | false {
  return runs('python3', ['-c', 'import socket; socket.AF_UNIX']).ok ? false : 'python3 is not available';
}

/** Why syslog cannot be tested end to end (no listener, or no util-linux logger(1) with --prio-prefix), or false. */
export function syslogUnavailable(): string | false {
  const logger = runs('logger', ['--help']);
  return unixDgramUnavailable() || (logger.ok && logger.stdout.includes('--prio-prefix') ? false : 'util-linux logger(1) with --prio-prefix is not available');
}

/**
 * Binds `path` and calls `onDatagram` for every datagram, in order of arrival; resolves once the
 * socket is bound. The listener is killed when the test ends.
 */
export async function listenUnixDgram(t: TestContext, path: string, onDatagram: (d: Datagram) => void, timeoutMs = 8000): Promise<void> {
  const child = spawn('python3', ['-c', LISTENER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    child.kill('SIGKILL');
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  let listening = false;
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, nl)) as ListenerLine;
      buf = buf.slice(nl + 1);
      if (line.listening === true) listening = true;
      else onDatagram({ text: line.text ?? '', pid: line.pid ?? null, mono: line.mono ?? 0 });
    }
  });
  await waitFor(
    () => {
      if (exited && !listening) throw new Error(`the unix datagram listener on ${path} exited before it was bound`);
      return listening ? true : undefined;
    },
    timeoutMs,
    `the unix datagram listener on ${path}`,
  );
}

/** Binds `path`; the returned array receives the text of every datagram, in order (it may be emptied). */
export async function collectDatagrams(t: TestContext, path: string): Promise<string[]> {
  const texts: string[] = [];
  await listenUnixDgram(t, path, (d) => texts.push(d.text));
  return texts;
}

const CLIENT = String.raw`
import os, socket, sys
server, me, data, wait = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
try:
    os.unlink(me)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(me)
s.settimeout(wait)
s.sendto(data.encode(), server)
try:
    sys.stdout.write(s.recv(65536).decode("utf-8", "replace"))
except socket.timeout:
    sys.exit(3)
finally:
    os.unlink(me)
`;

/**
 * Sends `data` as one datagram to the unix datagram socket at `server` from a client socket bound
 * at `client` (a unix datagram server answers the sender's path), and returns the first answer;
 * null when none comes within `timeoutMs`. Throws when the datagram cannot be sent.
 */
export function unixDgramRequest(server: string, client: string, data: string, timeoutMs = 5000): string | null {
  const r = spawnSync('python3', ['-c', CLIENT, server, client, data, String(timeoutMs / 1000)], { encoding: 'utf8', timeout: timeoutMs + 5000 });
  if (r.status === 3) return null;
  if (r.status !== 0) throw new Error(`datagram to ${server} not sent: ${r.stderr}`);
  return r.stdout;
}

/** Sends `data` as one datagram to the unix datagram socket at `server` from an unbound client; throws when it cannot. */
export function sendUnixDgram(server: string, data: Buffer): void {
  const script = 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(bytes.fromhex(sys.argv[2]), sys.argv[1])';
  const r = spawnSync('python3', ['-c', script, server, data.toString('hex')], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) throw new Error(`datagram to ${server} not sent: ${r.stderr}`);
}
