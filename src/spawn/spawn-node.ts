// The pure-Node spawner: child_process.spawn with the socket as fds 0, 1 and 2.
//
// What it can do: argv (argv[0] included), environment, uid/gid (libuv then drops every
// supplementary group, which is xinetd's `groups = no`), umask (swapped around the synchronous
// spawn call, so only the child gets it), nice (os.setPriority right after the child exists,
// as an increment on the daemon's own priority like nice(3)). What it cannot do, and says so in
// `capabilities`: rlimit_* (Node has no setrlimit) and `groups = yes` (no way to pass a
// supplementary group list). Servers run in their own session (setsid), with / as working
// directory, like xinetd's.
//
// Failures to start (ENOENT, EACCES, EMFILE...) reject the promise; Node reports some of them
// synchronously and some as the child's asynchronous 'error' event: both end up here.

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { constants as osConstants, getPriority, setPriority } from 'node:os';
import { applyNice } from './child-env.js';
import { descriptorOf } from '../sys/uv-handles.js';
import type { ChildStdio, ExitInfo, SpawnCapabilities, SpawnSpec, Spawner } from './spawn-types.js';

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = osConstants.signals;

/** How one ChildStdio is handed to child_process.spawn. */
function stdioEntry(stdio: ChildStdio): net.Socket | { fd: number } | null {
  if (stdio instanceof net.Socket) return stdio;
  if (stdio instanceof net.Server || stdio instanceof dgram.Socket) {
    const fd = descriptorOf(stdio);
    return fd === null ? null : { fd };
  }
  // A connection or socket held by a native helper cannot reach child_process.spawn (this
  // spawner has no acceptor and no helper sockets, so none is ever given to it).
  if ('accepted' in stdio || 'heldSocket' in stdio) return null;
  return { fd: stdio.fd };
}

function envObject(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

function spawnError(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}

export const NODE_SPAWNER_CAPABILITIES: SpawnCapabilities = {
  uidGid: true,
  groups: false,
  umask: true,
  nice: true,
  rlimits: false,
};

export class NodeSpawner implements Spawner {
  readonly name = 'node';
  readonly capabilities: SpawnCapabilities = NODE_SPAWNER_CAPABILITIES;
  private readonly handlers: Array<(info: ExitInfo) => void> = [];
  private readonly children = new Map<number, ChildProcess>();
  private closed = false;

  spawn(spec: SpawnSpec, stdio: ChildStdio): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      if (this.closed) {
        reject(spawnError('ECANCELED', 'spawner closed'));
        return;
      }
      const entry = stdioEntry(stdio);
      if (entry === null) {
        reject(spawnError('EBADF', 'the socket to pass has no descriptor'));
        return;
      }
      const setup = spec.socketSetup;
      if (setup !== undefined && stdio instanceof net.Socket) {
        // TCP wrappers' options; Node cannot set SO_LINGER, so linger needs the native helper.
        if (setup.keepalive) stdio.setKeepAlive(true);
        if (setup.pre !== null) stdio.write(setup.pre);
      }
      let child: ChildProcess;
      const previousUmask = process.umask(spec.umask);
      try {
        child = spawn(spec.path, spec.argv.slice(1), {
          argv0: spec.argv[0] ?? spec.path,
          stdio: [entry, entry, entry] as StdioOptions,
          env: envObject(spec.env),
          cwd: '/',
          detached: true,
          ...(spec.uid !== null ? { uid: spec.uid } : {}),
          ...(spec.gid !== null ? { gid: spec.gid } : {}),
        });
      } catch (err) {
        reject(err instanceof Error ? err : spawnError('EINVAL', String(err)));
        return;
      } finally {
        process.umask(previousUmask);
      }

      const pid = child.pid;
      if (pid === undefined) {
        child.once('error', (err) => reject(err));
        return;
      }
      // Later errors (a failed kill) must not become unhandled 'error' events.
      child.on('error', () => {});
      this.children.set(pid, child);
      child.once('exit', (code, signal) => {
        this.children.delete(pid);
        const info: ExitInfo = { pid, code, signal: signal === null ? null : (SIGNAL_NUMBERS[signal] ?? null) };
        for (const h of this.handlers) h(info);
      });
      if (spec.nice !== null) {
        try {
          setPriority(pid, applyNice(getPriority(), spec.nice));
        } catch {
          // like xinetd's unchecked nice(): a refused priority change does not stop the server
        }
      }
      resolve(pid);
    });
  }

  onExit(handler: (info: ExitInfo) => void): void {
    this.handlers.push(handler);
  }

  kill(pid: number, signal: NodeJS.Signals | number): void {
    if (!this.children.has(pid)) return;
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }

  /** Nothing to wait for (the Spawner contract's close() is asynchronous for the helper's sake). */
  close(): Promise<void> {
    this.closed = true;
    // Servers outlive the daemon (xinetd's SIGQUIT); they must not keep it running.
    for (const child of this.children.values()) child.unref();
    return Promise.resolve();
  }
}
