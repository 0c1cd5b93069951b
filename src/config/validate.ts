// Checks on built services: one small function per rule, each returning findings.
//
// A finding is a diagnostic plus what it does to the service:
//   - 'disable': xinetd drops such a service (missing required attribute, port not in
//     /etc/services, impossible combination...) → enabled = false;
//   - 'problem': the service cannot run here and now (missing server program, unknown user,
//     a feature tsinetd does not have) → it stays enabled in the table with a `problems` entry,
//     and the server does not start it;
//   - 'none': advice only.
// The checks are pure: the file system and the user database come in through `CheckEnv`.
// Services the configuration turns off (`off` set by build) are not checked, as in xinetd.

import { MAX_RPC_VERSIONS } from '../serve/rpc-plan.js';
import { XINETD_BUILTINS, TSINETD_BUILTINS } from './xinetd/attribute-words.js';
import type { BuiltService } from './xinetd/build.js';
import type { DiagnosticCode } from '../diagnostic-codes.js';
import { diag, type Diagnostic, type Severity } from '../diagnostics.js';
import type { SysDb } from '../sys/sysdb.js';
import type { Service } from '../table.js';
import type { Loc, Word } from './xinetd/syntax.js';
import { versus } from '../app/versus.js';
import { privilegeFindings, type DaemonIdentity, type PrivilegeMode } from '../sys/privileges.js';
import { servedInternally, serviceKind } from '../service-kind.js';

export type Effect = 'disable' | 'problem' | 'none';

export interface Finding {
  /** Index of the service in the list checked. */
  index: number;
  diagnostic: Diagnostic;
  effect: Effect;
  /** For 'problem': the text of the `problems` entry. */
  problem?: string;
}

/** What a path is, for the server check; null when it does not exist. */
export interface PathInfo {
  isFile: boolean;
  isDirectory: boolean;
  executable: boolean;
}

export interface CheckEnv {
  db: Pick<SysDb, 'user' | 'group' | 'serviceByName'>;
  probe(path: string): PathInfo | null;
  /** Who the daemon runs as (privileges.ts); without it the privilege check is skipped. */
  identity?: DaemonIdentity;
  /** Whether services the daemon cannot start are refused (default) or only warned about (--check). */
  privileges?: PrivilegeMode;
  /** Why the service's user cannot execute its server (exec-access.ts); without it the check is skipped. */
  serverAccess?: (service: BuiltService['service']) => string | null;
}

type Check = (b: BuiltService, index: number, env: CheckEnv) => Finding[];

export function where(loc: Loc): { file: string; line: number; column: number } {
  return { file: loc.file, line: loc.line, column: loc.column };
}

export function span(loc: Loc): number {
  return loc.endLine === loc.line ? Math.max(1, loc.endColumn - loc.column) : 1;
}

/** The value word of an attribute the service set, or the service name when it is inherited/unset. */
function anchor(b: BuiltService, key: string, value = 0): Word {
  const a = b.set.get(key);
  return a?.values[value] ?? a?.name ?? b.node.name;
}

export function finding(code: DiagnosticCode, index: number, severity: Severity, w: Word, message: string, effect: Effect, problem?: string): Finding {
  const f: Finding = { index, diagnostic: diag(code, severity, where(w.loc), message, span(w.loc)), effect };
  if (problem !== undefined) f.problem = problem;
  return f;
}

export function label(b: BuiltService): string {
  return serviceLabel(b.service);
}

export function serviceLabel(s: Service): string {
  return s.id === s.name ? `service '${s.name}'` : `service '${s.name}' (id ${s.id})`;
}

const isInternal = (b: BuiltService): boolean => servedInternally(b.service);
const isRpc = (b: BuiltService): boolean => b.service.type.includes('RPC');
const isMux = (b: BuiltService): boolean => b.service.type.includes('TCPMUX') || b.service.type.includes('TCPMUXPLUS');
const isUnlisted = (b: BuiltService): boolean => b.service.type.includes('UNLISTED');

// ---- Per-service checks -------------------------------------------------------------------------

/** xinetd's service_attr_check: what every service, and each kind of service, must set. */
export const checkRequiredAttributes: Check = (b, i) => {
  const has = (key: string): boolean =>
    key === 'protocol' ? b.hasProtocol : key === 'socket_type' ? b.hasSocketType : key === 'port' ? b.service.port !== null : b.set.has(key);
  const must = ['socket_type', 'wait'];
  if (!isInternal(b)) {
    must.push('user');
    if (isRpc(b) || b.service.redirect === null) must.push('server');
    if (isUnlisted(b)) must.push(...(isMux(b) ? ['protocol'] : ['protocol', 'port']));
  }
  if (isRpc(b)) {
    const p = must.indexOf('port');
    if (p >= 0) must.splice(p, 1);
    must.push('protocol', 'rpc_version');
    if (isUnlisted(b)) must.push('rpc_number');
  }
  const missing = [...new Set(must)].filter((k) => !has(k));
  if (missing.length === 0) return [];
  const list = missing.map((k) => `'${k}'`).join(', ');
  return [
    finding(
      'missing-attribute',
      i,
      'error',
      b.node.name,
      `${label(b)} is missing ${missing.length === 1 ? 'the required attribute' : 'the required attributes'} ${list}; xinetd disables it`,
      'disable',
    ),
  ];
};

/**
 * xinetd's service_attr_check for TCPMUX services (they are reached through tcpmux by name, so
 * /etc/services has no say): `type` must include UNLISTED and the protocol must be tcp, or the
 * service is disabled ("Service: NAME (tcpmux) should have UNLISTED in type.").
 */
export const checkMux: Check = (b, i) => {
  if (!isMux(b)) return [];
  // The first of xinetd's two requirements that fails: the attribute it names, and what it wants.
  const wrong = !isUnlisted(b) ? (['type', 'UNLISTED'] as const) : b.protocolName !== 'tcp' ? (['protocol', 'tcp'] as const) : null;
  if (wrong === null) return [];
  const [attribute, wanted] = wrong;
  return [
    finding(
      'bad-combination',
      i,
      'error',
      anchor(b, attribute),
      `${label(b)} is a TCPMUX service and should have ${wanted} in ${attribute}; xinetd disables it`,
      'disable',
    ),
  ];
};

/** An RPC service's program number comes from /etc/rpc by its name (getrpcbyname), unless UNLISTED. */
export const checkRpcProgram: Check = (b, i) => {
  if (!isRpc(b) || isUnlisted(b) || b.service.rpc_number !== null) return [];
  // xinetd's words (confparse.c): "unknown RPC service: NAME", and the service is dropped.
  return [
    finding(
      'not-in-rpc',
      i,
      'error',
      b.node.name,
      `unknown RPC service: ${b.service.name} (not in /etc/rpc, by name or alias); xinetd disables ${label(b)}`,
      'disable',
    ),
  ];
};

/** The port: given, or found in /etc/services; and a given port must match /etc/services unless UNLISTED. */
export const checkPort: Check = (b, i, env) => {
  const s = b.service;
  if (isRpc(b) || isMux(b) || !b.hasProtocol) return [];
  if (isUnlisted(b)) return [];
  if (b.listedPort === null) {
    if (b.protocolName !== s.protocol && env.db.serviceByName(s.name, s.protocol) !== undefined) {
      // xinetd looks the name up with the protocol as written, and names are compared exactly.
      return [
        finding(
          'not-in-services',
          i,
          'error',
          anchor(b, 'protocol'),
          `'${s.name}/${b.protocolName}' is not in /etc/services (it lists ${s.name}/${s.protocol}; the protocol is looked up as written): write 'protocol = ${s.protocol}'; xinetd disables ${label(b)}`,
          'disable',
        ),
      ];
    }
    const how = b.set.has('port')
      ? "add 'type = UNLISTED' to use a name /etc/services does not list"
      : "add 'type = UNLISTED' and 'port = N', or add the service to /etc/services";
    return [
      finding(
        'not-in-services',
        i,
        'error',
        b.node.name,
        `'${s.name}/${b.protocolName}' is not in /etc/services: ${how}; xinetd disables ${label(b)}`,
        'disable',
      ),
    ];
  }
  if (b.set.has('port') && s.port !== b.listedPort) {
    return [
      finding(
        'port-mismatch',
        i,
        'error',
        anchor(b, 'port'),
        `/etc/services gives ${s.name}/${b.protocolName} port ${b.listedPort}, not ${String(s.port)}: add 'type = UNLISTED' to run it on another port; xinetd disables ${label(b)}`,
        'disable',
      ),
    ];
  }
  return [];
};

/** Internal services exist by name and socket type; tsinetd has the five classic ones. */
export const checkInternal: Check = (b, i) => {
  const s = b.service;
  const out: Finding[] = [];
  if (s.flags.includes('NAMEINARGS') && isInternal(b)) {
    out.push(finding('bad-combination', i, 'error', anchor(b, 'flags'), `${label(b)} is internal and has the NAMEINARGS flag; xinetd disables it`, 'disable'));
  }
  if (serviceKind(s) !== 'internal') return out;
  const types = XINETD_BUILTINS[s.name.toLowerCase()];
  if (types === undefined || !types.includes(s.socket_type)) {
    out.push(
      finding(
        'unknown-internal',
        i,
        'error',
        b.node.name,
        `there is no internal service '${s.name}' for socket_type ${s.socket_type} (internal services are chosen by service name: echo, discard, daytime, chargen, time, and tcpmux for stream); xinetd disables ${label(b)}`,
        'disable',
      ),
    );
  } else if (!TSINETD_BUILTINS.has(s.name.toLowerCase())) {
    out.push(
      finding(
        'unsupported',
        i,
        'error',
        b.node.name,
        `not supported by tsinetd: xinetd's internal service '${s.name}'${versus('starts less')}`,
        'problem',
        `internal service '${s.name}' is not supported by tsinetd`,
      ),
    );
  }
  return out;
};

/** redirect: stream, nowait, no NAMEINARGS; TRAFFIC is logged only for redirects. */
export const checkRedirect: Check = (b, i) => {
  const s = b.service;
  const out: Finding[] = [];
  if (s.redirect !== null) {
    const at = anchor(b, 'redirect');
    if (s.socket_type !== 'stream')
      out.push(finding('bad-combination', i, 'error', at, `only stream (tcp) services can be redirected; xinetd disables ${label(b)}`, 'disable'));
    if (s.wait) out.push(finding('bad-combination', i, 'error', at, `a redirected service must have 'wait = no'; xinetd disables ${label(b)}`, 'disable'));
    if (s.flags.includes('NAMEINARGS'))
      out.push(finding('bad-combination', i, 'error', at, `a redirected service cannot have the NAMEINARGS flag; xinetd disables ${label(b)}`, 'disable'));
  } else if (s.log_on_success.includes('TRAFFIC')) {
    const inherited = !b.set.has('log_on_success') ? ' (inherited from defaults)' : '';
    out.push(
      finding(
        'bad-combination',
        i,
        'error',
        anchor(b, 'log_on_success'),
        `log_on_success TRAFFIC${inherited} is only for redirected services; xinetd disables ${label(b)}`,
        'disable',
      ),
    );
  }
  return out;
};

/** NAMEINARGS takes argv[0] from server_args, which must then be given. */
export const checkNameInArgs: Check = (b, i) => {
  const s = b.service;
  if (!s.flags.includes('NAMEINARGS') || isInternal(b) || s.redirect !== null) return [];
  if (b.set.has('server_args')) return [];
  return [
    finding(
      'bad-combination',
      i,
      'error',
      anchor(b, 'flags'),
      `the NAMEINARGS flag needs 'server_args' (its first word is argv[0]); xinetd disables ${label(b)}`,
      'disable',
    ),
  ];
};

/** The server program must be an absolute path to an executable regular file. */
export const checkServer: Check = (b, i, env) => {
  const s = b.service;
  // xinetd checks the `server` of an internal service too, although it never runs it, and
  // disables the service when it is not executable (measured: "Server /etc/passwd is not
  // executable", "Error parsing attribute server - DISABLING SERVICE").
  const server = s.server ?? (isInternal(b) && s.redirect === null ? (b.set.get('server')?.values[0]?.text ?? null) : null);
  if (server === null) return [];
  const at = anchor(b, 'server');
  const consequence = 'xinetd disables such a service; tsinetd will not start it';
  let reason: string | null = null;
  if (!server.startsWith('/')) reason = `server '${server}' is not an absolute path`;
  else {
    const info = env.probe(server);
    if (info === null) reason = `server ${server} does not exist`;
    else if (info.isDirectory) reason = `server ${server} is a directory`;
    else if (!info.isFile) reason = `server ${server} is not a regular file`;
    else if (!info.executable) reason = `server ${server} is not executable`;
  }
  return reason === null ? [] : [finding('server-program', i, 'error', at, `${reason}; ${consequence}`, 'problem', reason)];
};

/** user and group must exist (numbers are taken as they are, as xinetd does). */
export const checkUserGroup: Check = (b, i, env) => {
  const s = b.service;
  const out: Finding[] = [];
  if (s.user !== null && !/^\d+$/.test(s.user) && env.db.user(s.user) === undefined) {
    const reason = `unknown user '${s.user}'`;
    out.push(
      finding(
        'unknown-user',
        i,
        'error',
        anchor(b, 'user'),
        `${reason} (not in /etc/passwd); xinetd disables such a service; tsinetd will not start it`,
        'problem',
        reason,
      ),
    );
  }
  if (s.group !== null && !/^\d+$/.test(s.group) && env.db.group(s.group) === undefined) {
    const reason = `unknown group '${s.group}'`;
    out.push(
      finding(
        'unknown-group',
        i,
        'error',
        anchor(b, 'group'),
        `${reason} (not in /etc/group); xinetd disables such a service; tsinetd will not start it`,
        'problem',
        reason,
      ),
    );
  }
  return out;
};

/** A daemon that is not root cannot start servers as another user (privileges.ts). */
export const checkDaemonPrivileges: Check = (b, i, env) => {
  if (env.identity === undefined) return [];
  return privilegeFindings(b.service, env.identity, env.db, env.privileges).map((f) =>
    f.kind === 'refuse'
      ? finding('privileges', i, 'error', anchor(b, 'user'), f.message, 'problem', f.problem)
      : finding('privileges', i, 'warning', anchor(b, f.attribute), f.message, 'none'),
  );
};

/** The service's user must be able to execute its server (exec-access.ts): a warning only. */
export const checkServerAccess: Check = (b, i, env) => {
  const why = env.serverAccess?.(b.service) ?? null;
  return why === null ? [] : [finding('access-check', i, 'warning', anchor(b, 'server'), why, 'none')];
};

/** Features tsinetd does not have: an error when the service cannot work without them. */
export const checkUnsupported: Check = (b, i) => {
  const s = b.service;
  const out: Finding[] = [];
  const cannot = (w: Word, what: string): void => {
    out.push(
      finding(
        'unsupported',
        i,
        'error',
        w,
        `not supported by tsinetd: ${what}; ${label(b)} will not be started${versus('starts less')}`,
        'problem',
        `not supported by tsinetd: ${what}`,
      ),
    );
  };
  const ignored = (w: Word, what: string): void => {
    out.push(finding('unsupported', i, 'warning', w, `not supported by tsinetd: ${what}${versus('same')}`, 'none'));
  };
  const vers = s.rpc_version;
  if (isRpc(b) && vers !== null && vers[1] - vers[0] + 1 > MAX_RPC_VERSIONS) {
    ignored(anchor(b, 'rpc_version'), `rpc_version ${vers[0]}-${vers[1]}: only the first ${MAX_RPC_VERSIONS} versions are registered`);
  }
  if (s.socket_type === 'raw' || s.socket_type === 'seqpacket') cannot(anchor(b, 'socket_type'), `socket_type = ${s.socket_type}`);
  else if (b.hasProtocol && s.protocol !== 'tcp' && s.protocol !== 'udp') cannot(anchor(b, 'protocol'), `protocol ${s.protocol} (only tcp and udp)`);
  else if ((s.socket_type === 'stream' && s.protocol === 'udp') || (s.socket_type === 'dgram' && s.protocol === 'tcp')) {
    // xinetd: "socket creation failed (Protocol not supported ...)", and the service does not start.
    out.push(
      finding(
        'bad-combination',
        i,
        'error',
        anchor(b, 'protocol'),
        `socket_type = ${s.socket_type} does not go with protocol ${s.protocol}: xinetd cannot create the socket and does not start ${label(b)}; tsinetd will not start it${versus('same')}`,
        'problem',
        `socket_type ${s.socket_type} with protocol ${s.protocol}`,
      ),
    );
  }
  if (s.flags.includes('LABELED')) cannot(anchor(b, 'flags'), 'flags = LABELED (SELinux labeled networking)');
  // xinetd: IDONLY has an effect only when USERID is logged (served by ident.ts).
  if (s.flags.includes('IDONLY') && !s.log_on_success.includes('USERID') && !s.log_on_failure.includes('USERID')) {
    out.push(
      finding(
        'no-effect',
        i,
        'warning',
        anchor(b, 'flags'),
        'flags = IDONLY has no effect without USERID in log_on_success or log_on_failure (as in xinetd)',
        'none',
      ),
    );
  }
  if (s.flags.includes('INTERCEPT')) ignored(anchor(b, 'flags'), 'flags = INTERCEPT is ignored (addresses are checked on every connection anyway)');
  return out;
};

export const SERVICE_CHECKS: readonly Check[] = [
  checkRequiredAttributes,
  checkMux,
  checkRpcProgram,
  checkPort,
  checkInternal,
  checkRedirect,
  checkNameInArgs,
  checkServer,
  checkUserGroup,
  checkDaemonPrivileges,
  checkServerAccess,
  checkUnsupported,
];

/** Runs every per-service check on the services the configuration leaves on. */
export function checkServices(services: readonly BuiltService[], env: CheckEnv): Finding[] {
  const out: Finding[] = [];
  services.forEach((b, i) => {
    if (b.off !== null) return;
    for (const check of SERVICE_CHECKS) out.push(...check(b, i, env));
  });
  return out;
}
