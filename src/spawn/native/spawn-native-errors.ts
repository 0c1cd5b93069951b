// The native spawner's errors (what failed, for which program, and why, as xinetd words it) and
// two small facts about processes it needs: how one exited, whether one still runs.

import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { describeErrno } from '../../sys/errno.js';
import { isKnownStage } from './spawnd-messages.js';

/** A signal name or number as a number; null when unknown. */
export function signalNumber(signal: NodeJS.Signals | number): number | null {
  if (typeof signal === 'number') return Number.isInteger(signal) && signal >= 0 && signal < 65 ? signal : null;
  const n = (osConstants.signals as Record<string, number | undefined>)[signal];
  return n === undefined ? null : n;
}

/** The error for a failed spawn: what failed, for which program, and why. */
export class NativeSpawnError extends Error implements NodeJS.ErrnoException {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path: string;
  /** Which step failed: one of STAGES (spawnd-protocol.ts; native/PROTOCOL.md, Errors). */
  readonly stage: string;

  constructor(path: string, stage: string, errno: number, detail: string) {
    const [name, text] = describeErrno(errno);
    super(spawnFailureText(path, stage, name, text, detail));
    this.name = 'NativeSpawnError';
    this.code = name;
    this.errno = -errno;
    this.syscall = stage === 'exec' ? 'execve' : stage;
    this.path = path;
    this.stage = stage;
  }
}

/** The message of a NativeSpawnError (xinetd logs "execv( PATH ) failed: TEXT"). */
export function spawnFailureText(path: string, stage: string, name: string, text: string, detail: string): string {
  // Typed by the table: a stage renamed there fails to compile here.
  switch (isKnownStage(stage) ? stage : null) {
    case 'exec':
      return `cannot exec ${path}: ${text} (${name})`;
    case 'setuid':
    case 'setgid':
    case 'setgroups':
    case 'dup2':
      return `cannot start ${path}: ${stage} failed: ${text} (${name})`;
    case 'fork':
    case 'pipe':
      return `cannot start ${path}: ${stage} failed in the spawn helper: ${text} (${name})`;
    case 'recv':
      return `cannot start ${path}: ${detail || 'the socket did not reach the spawn helper'} (${name})`;
    default:
      return `cannot start ${path}: ${detail || text} (${name})`;
  }
}

export function spawnerError(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}

/** Why the helper could not be started, with the cause's code (EMFILE, EACCES...); ENOENT when it has none. */
export function helperStartError(helperPath: string, cause: unknown): NodeJS.ErrnoException {
  const err = asError(cause);
  const code = (err as NodeJS.ErrnoException).code;
  return spawnerError(typeof code === 'string' ? code : 'ENOENT', `cannot start the spawn helper ${helperPath}: ${err.message}`);
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `status ${String(code)}`;
}

/** Whether pid still runs (a zombie does not: it waits for a parent that is not us). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
