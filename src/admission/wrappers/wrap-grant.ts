// What a TCP-wrappers rule that granted access does to the start of the server: the options of
// hosts_options(5) in the order written (planWrapGrant, pure), then the work they ask for
// (runWrapSpawns, wrapBanner: I/O). Semantics as under xinetd 2.3.15.3 with Debian's libwrap:
//   spawn CMD     /bin/sh -c CMD, stdio on /dev/null, waited for before the server starts (the
//                 daemon never waits: the connection does);
//   twist CMD     /bin/sh -c CMD runs in the server's place with the connection as fds 0-2
//                 (never in the daemon, which xinetd does for its non-forking internal services);
//   setenv N V    seen by later spawn and twist commands, not by the server (xinetd builds the
//                 server's environment itself);
//   umask, nice   carried to the server (nice adds to the service's own);
//   keepalive, linger N   set on the connection;
//   banners DIR   DIR/<daemon> with % expansions, LF → CRLF, written before the server's output;
//   rfc931 [T]    asks the client's identd (for %u);
//   severity      the level of the refusal line (admission.ts);
//   user, group   nothing (Debian's libwrap never applies them).
// Commands run with the service's user and group, as xinetd's child has switched to them first.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WrapGrant } from '../admission-types.js';
import {
  expandBanner,
  expandOptionText,
  expandPercent,
  optionNeeds,
  percentNeeds,
  setenvFrom,
  type PercentContext,
  type PercentNeed,
} from './hosts-options.js';
import type { Peer } from '../../peer.js';
import { runShell } from './wrappers.js';

export interface WrapPlan {
  /** Commands to run before the server, in order, each with the environment set before it. */
  spawns: { command: string; env: Record<string, string> }[];
  /** Run instead of the server (expanded), with the environment set before it; null: the server. */
  twist: { command: string; env: Record<string, string> } | null;
  umask: number | null;
  /** Added to the service's nice. */
  nice: number | null;
  keepalive: boolean;
  lingerSeconds: number | null;
}

/** The % expansion context of a grant (host names and user as far as they were looked up). */
export function percentContext(grant: WrapGrant, peer: Peer, pid: number): PercentContext {
  return {
    daemon: grant.daemon,
    pid,
    client: {
      // libwrap matches an IPv4-mapped client as IPv4, but expands %a as it sees it (::ffff:a.b.c.d).
      address: peer.address,
      port: peer.port,
      ...(grant.clientHostname !== null ? { hostname: grant.clientHostname } : {}),
      ...(grant.clientUser !== null ? { user: grant.clientUser } : {}),
    },
    server: { address: grant.local.address, port: grant.local.port },
  };
}

/** The plan of a grant, expanding each command with `ctx` (pure). */
export function planWrapGrant(grant: WrapGrant, ctx: PercentContext): WrapPlan {
  const plan: WrapPlan = {
    spawns: [],
    twist: null,
    umask: null,
    nice: null,
    keepalive: false,
    lingerSeconds: null,
  };
  const env: Record<string, string> = {};
  for (const o of grant.options) {
    switch (o.kind) {
      case 'spawn':
        plan.spawns.push({ command: expandOptionText(o.command, ctx), env: { ...env } });
        break;
      case 'twist':
        plan.twist = { command: expandOptionText(o.command, ctx), env: { ...env } };
        break;
      case 'setenv': {
        const { name, value } = setenvFrom(expandPercent(o.template, ctx));
        if (name !== '') env[name] = value;
        break;
      }
      case 'umask':
        plan.umask = o.mask;
        break;
      case 'nice':
        plan.nice = o.value;
        break;
      case 'keepalive':
        plan.keepalive = true;
        break;
      case 'linger':
        plan.lingerSeconds = o.seconds;
        break;
      default:
        break; // allow, deny, severity, user, group, aclexec: decided by admission; banners, rfc931: read first
    }
  }
  return plan;
}

/** The banner file a grant sends (DIR/<daemon> of its last `banners` option), or null. */
export function bannerFileOf(grant: WrapGrant): string | null {
  let file: string | null = null;
  for (const o of grant.options) if (o.kind === 'banners') file = join(o.dir, grant.daemon);
  return file;
}

/** The IDENT timeout a grant asks for (`rfc931 [T]`, libwrap's 10 s by default), in ms. */
export function identTimeoutOf(grant: WrapGrant): number {
  let ms = 10_000;
  for (const o of grant.options) if (o.kind === 'rfc931' && o.timeout !== null) ms = o.timeout * 1000;
  return ms;
}

/** What the grant's expansions and options need looked up first (the banner text's % letters included). */
export function grantNeeds(grant: WrapGrant, bannerText: string | null): Set<PercentNeed> {
  const needs = new Set(optionNeeds(grant.options));
  if (bannerText !== null) for (const n of percentNeeds(bannerText)) needs.add(n);
  return needs;
}

/** Runs the plan's spawn commands one after the other (as libwrap waits for each). */
export async function runWrapSpawns(plan: WrapPlan, ids: { uid?: number; gid?: number }, onError: (message: string) => void): Promise<void> {
  for (const s of plan.spawns) {
    const status = await runShell(s.command, { ...process.env, ...s.env }, ids);
    if (status < 0) onError(`spawn of "${s.command}" failed`);
  }
}

/** The text of a banner file, or null when there is none or it cannot be read. */
export async function readBanner(path: string | null, onError: (message: string) => void): Promise<string | null> {
  if (path === null) return null;
  try {
    return await readFile(path, 'latin1');
  } catch (err) {
    // libwrap is silent about a missing banner file (banners are per daemon: most have none).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onError(`cannot open banner ${path}: ${(err as Error).message}`);
    return null;
  }
}

/** The banner as sent: % expanded, each LF as CR LF (libwrap's banners option). */
export function bannerBytes(text: string | null, ctx: PercentContext): Buffer | null {
  return text === null ? null : Buffer.from(expandBanner(text, ctx), 'latin1');
}
