// The server programs the daemon started and its in-process connections (internal services,
// redirects), until they end: starts in flight (a stop waits for them to kill them), exits
// reported before their start was confirmed, and ending them (a stop, a reload that removed
// their service).

import type * as net from 'node:net';
import type { RunningServer } from './serve-context.js';
import type { ChildStdio, ExitInfo, SpawnSpec, Spawner } from '../spawn/spawn-types.js';
import type { Service } from '../table.js';
import { BoundedTable } from '../util/bounded-table.js';

/** Exits reported before their spawn() resolved, kept at most this many. */
const MAX_EARLY_EXITS = 1024;

export class RunningServers {
  private readonly servers = new Map<number, RunningServer>();
  private readonly earlyExits = new BoundedTable<ExitInfo, number>(MAX_EARLY_EXITS);
  private readonly inProcess = new Map<net.Socket, Service>();
  /** Starts asked of the spawner and not confirmed yet (a stop must wait for them to kill them). */
  private readonly inFlight = new Set<Promise<number>>();

  /** `ended`: a tracked server program exited (its EXIT line, admission's count). */
  constructor(
    private readonly spawner: Spawner,
    private readonly ended: (s: RunningServer, info: ExitInfo) => void,
  ) {
    spawner.onExit((info) => this.exited(info));
  }

  spawn(spec: SpawnSpec, stdio: ChildStdio): Promise<number> {
    const p = this.spawner.spawn(spec, stdio);
    this.inFlight.add(p);
    const forget = (): void => {
      this.inFlight.delete(p);
    };
    p.then(forget, forget);
    return p;
  }

  track(s: RunningServer): void {
    const early = this.earlyExits.get(s.pid);
    this.servers.set(s.pid, s);
    if (early !== undefined) {
      this.earlyExits.delete(s.pid);
      this.exited(early);
    }
  }

  private exited(info: ExitInfo): void {
    const s = this.servers.get(info.pid);
    if (s === undefined) {
      // The exit can be reported before spawn() resolved; keep it for track().
      this.earlyExits.set(info.pid, info);
      return;
    }
    this.servers.delete(info.pid);
    this.ended(s, info);
  }

  hold(socket: net.Socket, service: Service): () => void {
    this.inProcess.set(socket, service);
    return () => {
      this.inProcess.delete(socket);
    };
  }

  /** Running servers: programs, plus in-process internal services and redirects. */
  count(service?: Service): number {
    let n = 0;
    for (const s of this.servers.values()) if (service === undefined || s.service.id === service.id) n++;
    for (const s of this.inProcess.values()) if (service === undefined || s.id === service.id) n++;
    return n;
  }

  pids(): number[] {
    return [...this.servers.keys()];
  }

  /** Waits (at most `settleMs`) for the starts asked of the spawner to be confirmed and tracked. */
  private async settleStarts(settleMs: number): Promise<void> {
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise<void>((r) => {
        timer = setTimeout(r, settleMs);
      }),
    ]);
    clearTimeout(timer);
    // Let the tracking of just-confirmed starts run.
    await new Promise<void>((r) => setImmediate(r));
  }

  async killAll(signal: NodeJS.Signals, settleMs: number): Promise<number> {
    // Servers whose start is not confirmed yet are running already: wait for their pids.
    await this.settleStarts(settleMs);
    const pids = this.pids();
    for (const pid of pids) this.spawner.kill(pid, signal);
    return pids.length;
  }

  async endServersOf(
    ids: ReadonlySet<string>,
    signal: NodeJS.Signals,
    settleMs: number,
  ): Promise<{ programs: Array<{ id: string; pid: number }>; inProcess: number }> {
    const programs: Array<{ id: string; pid: number }> = [];
    const signalled = new Set<number>();
    const kill = (): void => {
      for (const [pid, s] of this.servers) {
        if (!ids.has(s.service.id) || signalled.has(pid)) continue;
        this.spawner.kill(pid, signal);
        signalled.add(pid);
        programs.push({ id: s.service.id, pid });
      }
    };
    kill();
    // A start of one of these services may still be in flight: it is killed once confirmed.
    if (this.inFlight.size > 0) {
      await this.settleStarts(settleMs);
      kill();
    }
    let inProcess = 0;
    for (const [socket, service] of this.inProcess) {
      if (!ids.has(service.id)) continue;
      socket.destroy();
      inProcess++;
    }
    return { programs, inProcess };
  }

  /** What the consistency check looks at about servers (ServingState). */
  state(): { servers: Array<{ pid: number; id: string }>; inProcess: Map<string, number>; startsInFlight: number } {
    const inProcess = new Map<string, number>();
    for (const s of this.inProcess.values()) inProcess.set(s.id, (inProcess.get(s.id) ?? 0) + 1);
    return {
      servers: [...this.servers.values()].map((s) => ({ pid: s.pid, id: s.service.id })),
      inProcess,
      startsInFlight: this.inFlight.size,
    };
  }

  /** Ends every in-process connection (the daemon stops). */
  closeInProcess(): void {
    for (const socket of this.inProcess.keys()) socket.destroy();
    this.inProcess.clear();
  }
}
