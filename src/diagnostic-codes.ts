// The codes of configuration diagnostics: one row per kind of problem, with the severities
// it is reported at and what it means. `--check` prints the code after the message
// (`file:line:col: error: message [code]`) and `--dump` gives it in JSON, so scripts and
// people can tell problems apart without matching message text, which may be reworded.
//
// The codes are words, not numbers: read in `--check` output they say what is wrong
// without a table at hand, as compiler warning names do. A code is stable: once released it
// keeps its meaning; a kind of problem that goes away leaves its code unused, never reused.
// tsinetd.conf(5) lists every row (test/e2e/man-pages.test.ts checks both ways).

/** How bad a diagnostic is (diagnostics.ts re-exports it). */
export type Severity = 'error' | 'warning' | 'note';

export interface CodeInfo {
  /** The severities this code is reported at, most usual first. */
  severities: readonly Severity[];
  meaning: string;
}

export const DIAGNOSTIC_CODES = {
  // Reading the files
  'unreadable-file': { severities: ['error', 'warning'], meaning: 'a configuration, included, inetd.conf or hosts file or directory cannot be read' },
  'include-cycle': { severities: ['error'], meaning: 'a file includes itself; xinetd loops on it and starts nothing, and tsinetd starts nothing' },
  'include-depth': { severities: ['error'], meaning: 'includes are nested too deep; the file is not read' },
  'includedir-entry': { severities: ['warning'], meaning: 'an entry of an includedir directory is skipped (its name or type)' },
  'relative-path': { severities: ['warning'], meaning: 'a relative path is read relative to a directory the reader may not expect' },
  'unsafe-permissions': { severities: ['warning'], meaning: 'a configuration file or directory can be changed by someone other than the daemon user or root' },
  // The xinetd syntax
  syntax: { severities: ['error'], meaning: 'the text does not follow the grammar of the file' },
  'dos-line-ends': { severities: ['warning', 'error'], meaning: 'CRLF line ends: xinetd keeps the carriage return in the last word of a line' },
  'extra-text': { severities: ['warning'], meaning: 'text after a complete line is ignored, as xinetd ignores it' },
  'bad-directive': { severities: ['error'], meaning: 'an include or includedir line, or a line outside any entry, that xinetd skips' },
  'unclosed-entry': { severities: ['error', 'warning'], meaning: "an entry without its closing '}'; xinetd ignores it (a warning in a disabled service)" },
  'brace-placement': { severities: ['error', 'warning'], meaning: "'{' or '}' not on a line of its own (a warning in a disabled service)" },
  'bad-line': { severities: ['error', 'warning'], meaning: 'an attribute line without an operator or value (a warning in a disabled service)' },
  'skipped-line': { severities: ['warning'], meaning: 'a line inside the text xinetd skips after an error' },
  // Attributes and values
  'unknown-attribute': { severities: ['warning'], meaning: 'an attribute xinetd does not know; the line is ignored' },
  'misplaced-attribute': { severities: ['warning'], meaning: 'an attribute that cannot be set there (in defaults, or in a service); the line is ignored' },
  'unsupported-attribute': { severities: ['warning'], meaning: 'an attribute tsinetd reads but does not act on (nor does xinetd 2.3.15)' },
  'duplicate-attribute': { severities: ['warning'], meaning: 'a scalar attribute set a second time; the first value stays' },
  'operator-on-scalar': { severities: ['warning'], meaning: "'+=' or '-=' on an attribute that is not a list; the line is ignored" },
  'operator-ignored': { severities: ['warning'], meaning: "an operator xinetd reads as another one ('-=' on enabled or disabled adds)" },
  'bad-operator': { severities: ['error'], meaning: 'an operator the attribute does not allow' },
  'value-count': { severities: ['warning'], meaning: 'the wrong number of values; the line is ignored' },
  'missing-value': { severities: ['error'], meaning: 'an attribute without the value it needs' },
  'bad-value': { severities: ['error'], meaning: 'a value that cannot be read; xinetd disables the service' },
  'unknown-value': { severities: ['error'], meaning: "a word that is not one of the attribute's choices" },
  'value-note': { severities: ['warning'], meaning: 'a value read in a way the writer may not expect (wrapped, rounded, a short form)' },
  'comment-inside-value': { severities: ['warning'], meaning: "'#' after the start of a line is a value, not a comment" },
  'bad-address': { severities: ['error'], meaning: 'an address of only_from, no_access or bind that cannot be read; it is ignored' },
  're-enabled': { severities: ['warning'], meaning: "'disable = no' after an error re-enables the service, as in xinetd" },
  'duplicate-defaults': { severities: ['error'], meaning: "a second 'defaults' entry in a file; it is ignored" },
  'enables-nothing': { severities: ['warning'], meaning: "'enabled' lists no service, so every service is off" },
  'unknown-id': { severities: ['warning'], meaning: "'enabled' or 'disabled' names an id no service has" },
  'server-unused': { severities: ['warning'], meaning: "'server' is set on a service that does not run it (internal or redirected)" },
  // Checks of whole services
  'missing-attribute': { severities: ['error'], meaning: 'a required attribute is not set; xinetd disables the service' },
  'not-in-rpc': { severities: ['error'], meaning: 'an RPC service whose name is not in /etc/rpc (and that is not UNLISTED with an rpc_number)' },
  'not-in-services': { severities: ['error'], meaning: 'the service name and protocol are not in /etc/services and no port makes up for it' },
  'port-mismatch': { severities: ['error'], meaning: "'port' differs from the port /etc/services lists for the name" },
  'unknown-internal': { severities: ['error'], meaning: 'an INTERNAL service that neither xinetd nor tsinetd provides' },
  'bad-combination': { severities: ['error'], meaning: 'attributes that cannot go together (redirect with wait, NAMEINARGS without server_args...)' },
  'server-program': { severities: ['error'], meaning: 'the server program is missing, a directory, not a regular file, or not executable' },
  'unknown-user': { severities: ['error'], meaning: 'the user is not in /etc/passwd; the service will not start' },
  'unknown-group': { severities: ['error'], meaning: 'the group is not in /etc/group; the service will not start' },
  privileges: { severities: ['error', 'warning'], meaning: 'the daemon cannot become the service user or group, or runs it with more privilege than asked' },
  unsupported: { severities: ['error', 'warning'], meaning: 'a feature tsinetd does not have; an error when the service then cannot start' },
  'no-effect': { severities: ['warning'], meaning: 'a setting that does nothing where it is (IDONLY without USERID...)' },
  'port-clash': { severities: ['error', 'warning'], meaning: 'two services on the same port, protocol and address; the one bound first keeps it' },
  'rpc-clash': {
    severities: ['error', 'warning'],
    meaning: 'two RPC services ask for the same program version over one transport; the one activated first registers it',
  },
  'duplicate-id': { severities: ['warning'], meaning: 'two services with the same id' },
  'access-check': { severities: ['warning'], meaning: 'the service user cannot reach the server program (exec access)' },
  limitation: { severities: ['warning'], meaning: 'how this process serves the service differs from xinetd (the spawner, the helper)' },
  // inetd.conf
  'inetd-bad-field': { severities: ['error'], meaning: 'an inetd.conf field that cannot be read; the entry is skipped' },
  'inetd-field-note': { severities: ['warning'], meaning: 'an inetd.conf field read in part, or as the inetd does, not as written' },
  'inetd-unsupported': { severities: ['error', 'warning'], meaning: 'an inetd.conf feature tsinetd does not have (IPsec policies, login classes...)' },
  'inetd-incomplete': { severities: ['error'], meaning: 'an inetd.conf entry with fields missing; it is skipped' },
  'inetd-continuation': { severities: ['warning'], meaning: 'an indented line continues the entry above, or a comment that is not in column 1' },
  'inetd-arguments': { severities: ['error', 'warning'], meaning: 'more server arguments than the inetd passes' },
  'inetd-replaced': { severities: ['warning'], meaning: 'a later entry for the same service replaces this one' },
  'inetd-dialect': { severities: ['warning', 'note'], meaning: 'which inetd.conf dialect the file is read as, or that it mixes dialects' },
  'inetd-cannot-run': { severities: ['warning'], meaning: 'an inetd.conf service whose user, group or program is not usable here' },
  // hosts.allow / hosts.deny
  'hosts-syntax': { severities: ['warning', 'error'], meaning: "a hosts_access line libwrap cannot read (missing ':', too long, unreadable)" },
  'hosts-option': { severities: ['error'], meaning: 'a hosts_access option that is unknown or has a bad value; libwrap refuses the client' },
  'hosts-never-matches': {
    severities: ['warning', 'error', 'note'],
    meaning: 'a pattern libwrap accepts but that can never match (an error when it also refuses clients)',
  },
  'hosts-note': { severities: ['note', 'warning'], meaning: 'a hosts_access option or expansion that does nothing here' },
  'hosts-fault': { severities: ['warning'], meaning: 'a problem libwrap meets while deciding (a pattern file that cannot be opened, a fault)' },
  // tsinetd itself
  'internal-error': { severities: ['error'], meaning: 'a fault in tsinetd while reading a file; please report it' },
  'convert-limitation': { severities: ['error', 'warning', 'note'], meaning: '--convert: something xinetd cannot express as the inetd entry does' },
  'convert-write': { severities: ['error'], meaning: '--convert: an output file or directory cannot be written' },
} as const satisfies Record<string, CodeInfo>;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;
