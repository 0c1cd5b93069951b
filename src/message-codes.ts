// The codes of the daemon's own messages: one row per class of message, with the levels it is
// logged at, whose words its text is, and what it means. These are the daemon lines (start-up,
// binding, reloads, the spawner, refusals' details, logging trouble...), not the service lines
// (START, EXIT, FAIL, USERID, TRAFFIC), which carry no code and stay byte for byte xinetd's:
// fail2ban and logwatch parse them.
//
// Where the code shows:
// - --log-format json: every daemon object has a "code" field (and "diagnostic", the
//   tsinetd.conf(5) code, on a configuration problem).
// - xinetd text: a line in xinetd's (or libwrap's, or an inetd's) own words stays as xinetd
//   writes it (`text: 'xinetd'`); a line in tsinetd's own words ends with ` [code]`, as
//   --check's diagnostics do (`text: 'own'`). A configuration or hosts-file problem shows the
//   diagnostic's code there, as --check prints it.
//
// A code is a word, stable from one release to the next: a class of message that goes away
// leaves its code unused, never reused. tsinetd.log(5) lists every row
// (test/unit/message-codes.test.ts checks both ways, and that the sources use each one).

import type { DiagnosticCode } from './diagnostic-codes.js';

/** The level of a daemon message (xinetd's msg() levels; debug only with -d). */
export type DaemonLevel = 'error' | 'warning' | 'notice' | 'info' | 'debug';

export interface MessageInfo {
  /** The levels this class is logged at, most usual first. */
  levels: readonly DaemonLevel[];
  /** 'xinetd': the text is xinetd's (libwrap's, an inetd's) and stays as is; 'own': text lines end with [code]. */
  text: 'xinetd' | 'own';
  meaning: string;
}

const ALL_LEVELS = ['error', 'warning', 'notice', 'info', 'debug'] as const;

export const MESSAGE_CODES = {
  // Start and stop
  started: { levels: ['notice'], text: 'own', meaning: 'tsinetd has read its configuration; the line names its version and the spawner it runs' },
  'started-working': { levels: ['notice'], text: 'xinetd', meaning: 'the listeners are open: the daemon serves that many services' },
  'start-failed': {
    levels: ['error'],
    text: 'own',
    meaning: 'the daemon cannot start (configuration, spawner, metrics endpoint, listeners) and exits with status 1',
  },
  'no-services': { levels: ['error'], text: 'xinetd', meaning: 'no service can run, at start or after a reload: the daemon exits (unless -stayalive)' },
  exiting: { levels: ['warning'], text: 'xinetd', meaning: 'the daemon stops (SIGTERM, SIGINT, SIGQUIT)' },
  'internal-error': {
    levels: ['error'],
    text: 'own',
    meaning: 'a fault in tsinetd, caught; when it escaped every handler the daemon stops with status 1. Please report it',
  },
  pidfile: { levels: ['error'], text: 'own', meaning: 'the pid file cannot be written' },
  'bad-syslog-facility': { levels: ['error'], text: 'xinetd', meaning: '-syslog names no facility; facility daemon is used' },
  readiness: { levels: ['warning'], text: 'own', meaning: 'the readiness notice to the service manager (sd_notify, --ready-fd) cannot be given' },
  'metrics-endpoint': { levels: ['notice'], text: 'own', meaning: 'where the --metrics endpoint listens' },
  'file-descriptors': { levels: ['error', 'notice'], text: 'own', meaning: 'the daemon ran out of file descriptors (error), or has some again (notice)' },
  // Starting servers
  'node-internals-missing': {
    levels: ['notice'],
    text: 'own',
    meaning: "Node's libuv handle internals are not available: the Node spawner starts servers; the line says what is not served",
  },
  'helper-missing': {
    levels: ['notice'],
    text: 'own',
    meaning: 'no native spawn helper: the Node spawner starts servers; the line says what is lost and how to get it back',
  },
  'helper-built': { levels: ['notice'], text: 'own', meaning: 'the daemon built the native spawn helper at start' },
  'spawn-helper': {
    levels: ['warning'],
    text: 'own',
    meaning: 'the spawn helper cannot start, failed, or sent what it should not; the Node spawner may stand in',
  },
  limitation: { levels: ['warning'], text: 'own', meaning: 'a service is served differently from xinetd by this run (the limitation diagnostic of --check)' },
  'exec-failed': { levels: ['error'], text: 'xinetd', meaning: 'a server program could not be executed; its client gets a FAIL line' },
  'spawn-failed': { levels: ['error'], text: 'own', meaning: 'a server could not be set up (user, group, environment); its client gets a FAIL line' },
  'server-exited': { levels: ['debug'], text: 'own', meaning: 'a server process ended' },
  'kill-server': {
    levels: ['warning'],
    text: 'xinetd',
    meaning: 'a server is killed (SIGKILL): one of a service removed by a reload, or of an RPC service at SIGTERM',
  },
  // The configuration and reloads
  'config-problem': {
    levels: ['error', 'warning', 'info'],
    text: 'own',
    meaning: 'a configuration diagnostic, as --check gives it; its tsinetd.conf(5) code is shown',
  },
  'hosts-problem': { levels: ['error', 'warning', 'info'], text: 'own', meaning: 'a problem in hosts.allow or hosts.deny, with its tsinetd.conf(5) code' },
  'address-list': {
    levels: ['error', 'warning'],
    text: 'own',
    meaning: 'an only_from or no_access entry that cannot be used as written (a name that does not resolve...)',
  },
  'service-not-started': { levels: ['error'], text: 'own', meaning: 'an enabled service cannot run (missing program, unknown user, unusable address list...)' },
  reconfiguring: { levels: ['notice'], text: 'xinetd', meaning: 'a reload (SIGHUP, SIGUSR2) begins' },
  readjusting: { levels: ['notice'], text: 'xinetd', meaning: 'a reload keeps a service and its socket' },
  'new-socket': {
    levels: ['notice'],
    text: 'own',
    meaning: "a reload changed a service's listening parameters: it gets a new socket, its running servers are kept",
  },
  reconfigured: { levels: ['notice'], text: 'xinetd', meaning: 'a reload is done; the counts of services added, kept and dropped' },
  'reload-failed': { levels: ['error'], text: 'own', meaning: 'a reload failed; the previous configuration stays' },
  'definition-kept': { levels: ['error'], text: 'own', meaning: "a reload cannot use a service's new definition; the previous one stays in service" },
  'connections-closed': { levels: ['warning'], text: 'own', meaning: 'a reload closed connections served in the daemon by services it removed' },
  'service-deactivated': { levels: ['notice'], text: 'xinetd', meaning: 'a reload removed a service' },
  // Listening
  listening: { levels: ['debug'], text: 'own', meaning: 'the port a service listens on' },
  'bind-failed': { levels: ['error'], text: 'xinetd', meaning: "a service's socket cannot be bound (the service is retried in the background)" },
  'rpcbind-unreachable': {
    levels: ['error'],
    text: 'own',
    meaning: 'rpcbind cannot be reached: RPC services are served but not registered; registration is retried in the background',
  },
  'rpcbind-back': { levels: ['notice'], text: 'own', meaning: 'rpcbind answers again after failed attempts; the line counts the mappings registered' },
  'rpcbind-lost': { levels: ['notice'], text: 'own', meaning: "rpcbind lost mappings of tsinetd's RPC services (it restarted): they are registered again" },
  'pmap-set-failed': {
    levels: ['error'],
    text: 'xinetd',
    meaning: 'an RPC program version is not registered: an earlier service has it, or rpcbind refused it or maps it for another owner',
  },
  'rpc-registered': { levels: ['debug'], text: 'own', meaning: 'how many versions of an RPC service were registered with rpcbind' },
  'bind-retry': {
    levels: ['notice', 'error'],
    text: 'own',
    meaning: 'a service whose socket could not be bound is retried (notice), and a retry failed (error)',
  },
  'bound-after-retry': { levels: ['notice'], text: 'own', meaning: 'a retried service is bound at last and serves' },
  'listener-error': { levels: ['error'], text: 'own', meaning: "a service's socket failed while listening" },
  'service-suspended': { levels: ['error'], text: 'xinetd', meaning: 'a service stops accepting for a while (cps, no descriptors, an inetd rate limit)' },
  'service-off': { levels: ['notice'], text: 'own', meaning: 'how long a service an inetd rate limit stopped stays off' },
  'service-reactivated': { levels: ['error'], text: 'xinetd', meaning: 'a suspended service is activated again, or cannot be' },
  'max-child': { levels: ['debug'], text: 'own', meaning: 'a service stops or starts accepting at its server limit (inetd max-child)' },
  // Clients
  'libwrap-refused': {
    levels: ALL_LEVELS,
    text: 'xinetd',
    meaning: "TCP wrappers refused a client (at the rule's severity, info by default); the FAIL line gives the reason",
  },
  'tcpmux-read-failed': { levels: ['error'], text: 'xinetd', meaning: 'a tcpmux client closed the connection before it sent a service name' },
  'tcpmux-request': {
    levels: ['debug', 'info'],
    text: 'own',
    meaning:
      "what became of a tcpmux request xinetd answers without a service line: no such TCPMUX service or a malformed line (debug), refused by the TCPMUX service's address lists (info)",
  },
  'load-refused': { levels: ['error'], text: 'xinetd', meaning: 'a client was refused because the load average is above max_load' },
  'refusal-detail': { levels: ['info'], text: 'own', meaning: 'why a client was refused, beyond the reason of its FAIL line' },
  'libwrap-warning': { levels: ['warning'], text: 'xinetd', meaning: "libwrap's own warnings: a host name and address that do not match, an aclexec status" },
  'wrap-problem': { levels: ['error'], text: 'own', meaning: 'a TCP wrappers option (spawn, banners, twist) cannot be carried out' },
  twist: { levels: ['info'], text: 'own', meaning: 'a twist option replaces the server with its command' },
  'wrap-options-ignored': {
    levels: ['warning'],
    text: 'own',
    meaning: 'TCP wrappers options other than spawn and twist do not apply to an internal service the helper answers',
  },
  banner: { levels: ['error'], text: 'xinetd', meaning: 'a banner file cannot be opened or read' },
  'redirect-failed': { levels: ['error'], text: 'own', meaning: 'a redirected connection cannot reach its target' },
  'wait-accept': { levels: ['warning'], text: 'own', meaning: 'a wait = yes service cannot take its next connection or datagram' },
  'datagram-refused': { levels: ['warning'], text: 'own', meaning: "a datagram is dropped: its sender's address cannot be known and an access check needs it" },
  'datagrams-discarded': {
    levels: ['warning'],
    text: 'own',
    meaning: 'servers of a wait = yes datagram service exit without reading; pending datagrams are dropped',
  },
  'dos-attack': { levels: ['warning'], text: 'xinetd', meaning: 'an internal datagram service got a datagram from a port that could make two services loop' },
  'ident-bad-line': { levels: ['error'], text: 'xinetd', meaning: "a client's identity server answered a line that cannot be read" },
  'ident-failed': { levels: ['error'], text: 'xinetd', meaning: "a client's identity server cannot be reached or answered too much" },
  noid: { levels: ['warning'], text: 'xinetd', meaning: 'an IDONLY service refuses a client that cannot be identified' },
  'ident-limit': { levels: ['debug'], text: 'own', meaning: 'no identity lookup for a refused client: -logprocs lookups are running' },
  // Logging and reports
  'log-size-limit': {
    levels: ['warning', 'error'],
    text: 'xinetd',
    meaning: "a service's log file passed its soft size limit (warning) or its hard one (error: it gets no more lines)",
  },
  'log-lines-lost': {
    levels: ['error', 'warning', 'notice'],
    text: 'own',
    meaning: 'a log file or syslog cannot be written or cannot keep up: lines are lost (error, warning); it works again (notice)',
  },
  'fail-lines-suppressed': { levels: ['warning'], text: 'own', meaning: 'how many FAIL lines of a service log-flood protection held back' },
  'consistency-check': { levels: ['info', 'warning'], text: 'xinetd', meaning: 'the outcome of a consistency check (SIGABRT, or periodic)' },
  'consistency-problem': { levels: ['error'], text: 'own', meaning: 'one inconsistency a check found in the daemon state' },
  'consistency-skipped': { levels: ['info'], text: 'own', meaning: 'a requested consistency check is skipped during a reload' },
  'state-dump': { levels: ['info'], text: 'xinetd', meaning: 'the state dump (SIGUSR1) is written' },
  'state-dump-failed': { levels: ['error'], text: 'own', meaning: 'the state dump cannot be written' },
} as const satisfies Record<string, MessageInfo>;

export type MessageCode = keyof typeof MESSAGE_CODES;

/** The levels `code` is logged at. */
export type MessageLevel<C extends MessageCode> = (typeof MESSAGE_CODES)[C]['levels'][number];

/** A daemon message of one catalogue row: its code with one of that row's levels. */
export type DaemonMessage = {
  [C in MessageCode]: {
    kind: 'daemon';
    code: C;
    level: MessageLevel<C>;
    message: string;
    /** The function-like tag xinetd prints in braces on a terminal. */
    func?: string;
    /** A configuration or hosts problem: its tsinetd.conf(5) code. */
    diagnostic?: DiagnosticCode;
  };
}[MessageCode];

/** How the daemon's parts say something: a catalogue code, one of its levels, the text (see daemonMessage). */
export type Say = <C extends MessageCode>(code: C, level: MessageLevel<C>, text: string, func?: string, diagnostic?: DiagnosticCode) => void;

/** A daemon message; an uncatalogued code, or a level its row does not list, does not compile. */
export function daemonMessage<C extends MessageCode>(code: C, level: MessageLevel<C>, text: string, func?: string, diagnostic?: DiagnosticCode): DaemonMessage {
  const m = { kind: 'daemon', code, level, message: text } as DaemonMessage;
  if (func !== undefined) m.func = func;
  if (diagnostic !== undefined) m.diagnostic = diagnostic;
  return m;
}

/** The code a text line shows, or null when the line is in xinetd's words and stays as xinetd writes it. */
export function shownCode(m: Pick<DaemonMessage, 'code' | 'diagnostic'>): string | null {
  return MESSAGE_CODES[m.code].text === 'own' ? (m.diagnostic ?? m.code) : null;
}
