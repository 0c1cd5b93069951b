// A Service with every attribute at xinetd's default, for loaders and tests to fill in.
import type { Dialect, Service, SourceRef } from './table.js';

/** xinetd's implicit connection-rate limit: 50 connections per second, then 10 s off. */
export const DEFAULT_CPS: [number, number] = [50, 10];

export function newService(name: string, dialect: Dialect, source: SourceRef): Service {
  return {
    id: name,
    name,
    enabled: true,
    problems: [],
    dialect,
    socket_type: 'stream',
    protocol: 'tcp',
    port: null,
    wait: false,
    user: null,
    group: null,
    groups: false,
    server: null,
    server_argv: [],
    type: [],
    flags: [],
    only_from: null,
    no_access: null,
    access_times: [],
    instances: null,
    instances_at_limit: 'refuse',
    per_source: null,
    cps: [DEFAULT_CPS[0], DEFAULT_CPS[1]],
    max_load: null,
    deny_time: null,
    per_source_cps: null,
    inetd_rate: null,
    per_source_per_minute: null,
    bind: null,
    v6only: null,
    family_sockets: false,
    redirect: null,
    unix: null,
    log_type: null,
    log_on_success: [],
    log_on_failure: [],
    env: [],
    passenv: null,
    banner: null,
    banner_success: null,
    banner_fail: null,
    nice: null,
    umask: null,
    rlimits: {},
    libwrap: null,
    rpc_version: null,
    rpc_number: null,
    source: { file: source.file, line: source.line },
  };
}

/**
 * Makes a finished service compact, for a table that lives as long as the daemon runs: each of
 * its lists becomes a copy of exact length (lists grow by push while a configuration is read,
 * keeping room for 16 more entries, ~130 bytes), and each string in it, at the top level or in a
 * list, the one equal string `strings` already holds (the parser gives every service its own
 * copy of `root`, `/bin/cat`, `127.0.0.1`...). At 10,000 services these were ~6 MiB.
 */
export function compactService(s: Service, strings: Map<string, string>): void {
  const shared = (v: unknown): unknown => {
    if (typeof v !== 'string') return v;
    const known = strings.get(v);
    if (known !== undefined) return known;
    strings.set(v, v);
    return v;
  };
  const fields = s as unknown as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    const v = fields[key];
    if (Array.isArray(v)) fields[key] = v.map(shared);
    else if (typeof v === 'string') fields[key] = shared(v);
  }
}
