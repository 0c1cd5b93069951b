// The options of a hosts_access(5) rule (hosts_options(5)), read and checked as Debian's libwrap
// (PROCESS_OPTIONS, ACLEXEC) reads them once their rule has matched, and libwrap's `%`
// expansions. Pure: what the options do (spawn, twist, setsockopt, ...) is left to the caller,
// in the order given.
//
// libwrap runs the options one by one and stops at the first error, denying access: options
// before the bad one have already run. processRuleOptions returns the same prefix and the error.

import { diag, type Diagnostic } from '../../diagnostics.js';
import type { HostsRule } from './hosts-syntax.js';
import { isCSpace, scanInt, scanUnsigned } from './hosts-addr.js';

interface At {
  /** Position of the option's keyword. */
  line: number;
  column: number;
}

export type WrapOption =
  | ({ kind: 'allow' } & At)
  | ({ kind: 'deny' } & At)
  /** `/bin/sh -c` the command (after expandPercent), stdio on /dev/null, and wait for it. */
  | ({ kind: 'spawn'; command: string } & At)
  /** Run `/bin/sh -c` the command in the server's place, the client socket as fds 0-2. */
  | ({ kind: 'twist'; command: string } & At)
  /** Run the command and wait; a non-zero exit makes the rule count as not matched. */
  | ({ kind: 'aclexec'; command: string } & At)
  /** The expanded template is split at its first blank into name and value (setenvFrom). */
  | ({ kind: 'setenv'; template: string } & At)
  | ({ kind: 'umask'; mask: number } & At)
  | ({ kind: 'nice'; value: number } & At)
  | ({ kind: 'keepalive' } & At)
  | ({ kind: 'linger'; seconds: number } & At)
  /** IDENT lookup of the client user (for %u); timeout in seconds, null: the default (10). */
  | ({ kind: 'rfc931'; timeout: number | null } & At)
  /** Send DIR/<daemon name> (with % expansion, LF turned into CRLF) to the client. */
  | ({ kind: 'banners'; dir: string } & At)
  /** Syslog level (and facility) of the accept/refuse messages of this connection. */
  | ({ kind: 'severity'; facility: string | null; level: string } & At)
  /** No-ops on Debian (libwrap's test of dry_run is inverted), but an unknown name denies. */
  | ({ kind: 'user'; user: string; group: string | null } & At)
  | ({ kind: 'group'; group: string } & At);

export interface OptionChecks {
  /** Whether a user name exists (getpwnam). Absent: every name is taken as known. */
  knownUser?(name: string): boolean;
  /** Whether a group name exists (getgrnam). Absent: every name is taken as known. */
  knownGroup?(name: string): boolean;
}

export interface RuleOptions {
  /** The options to carry out, in order: up to the error when there is one. */
  options: WrapOption[];
  /** How the list ended: an option that decides (allow, deny, twist), an error, or its end. */
  end: 'allow' | 'deny' | 'twist' | 'error' | 'end';
  /** The error, as libwrap logs it ("error: FILE, line N: ..."), located at the option. */
  error: Diagnostic | null;
}

const NEED_ARG = 1;
const USE_LAST = 2;
const OPT_ARG = 4;

/** libwrap's option_table: keyword and argument rules. */
const KEYWORDS: ReadonlyMap<string, number> = new Map([
  ['user', NEED_ARG],
  ['group', NEED_ARG],
  ['umask', NEED_ARG],
  ['linger', NEED_ARG],
  ['keepalive', 0],
  ['aclexec', NEED_ARG],
  ['spawn', NEED_ARG],
  ['twist', NEED_ARG | USE_LAST],
  ['rfc931', OPT_ARG],
  ['setenv', NEED_ARG],
  ['nice', OPT_ARG],
  ['severity', NEED_ARG],
  ['allow', USE_LAST],
  ['deny', USE_LAST],
  ['banners', NEED_ARG],
]);

export const SYSLOG_FACILITIES: readonly string[] = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'lpr',
  'news',
  'uucp',
  'cron',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
];
export const SYSLOG_LEVELS: readonly string[] = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

/** libwrap's chop_string(): strip leading and trailing isspace() characters. */
function chop(s: string): { text: string; lead: number } {
  let a = 0;
  let b = s.length;
  while (a < b && isCSpace(s.charCodeAt(a))) a++;
  while (b > a && isCSpace(s.charCodeAt(b - 1))) b--;
  return { text: s.slice(a, b), lead: a };
}

const WHITESPACE = ' \t\r\n';

export interface SplitOption {
  key: string;
  value: string | null;
  /** Offset of the key in the field. */
  keyOffset: number;
}

/** One option field as process_options() cuts it: `key value` or `key = value` (one `=` ignored). */
export function splitOptionField(field: string): SplitOption {
  const { text, lead } = chop(field);
  let k = 0;
  while (k < text.length && !'= \t\r\n'.includes(text.charAt(k))) k++;
  const key = text.slice(0, k);
  let v = k;
  if (v < text.length) {
    if (text[v] !== '=') {
      v++;
      while (v < text.length && WHITESPACE.includes(text.charAt(v))) v++;
    }
    if (text[v] === '=') {
      v++;
      while (v < text.length && WHITESPACE.includes(text.charAt(v))) v++;
    }
  }
  const value = text.slice(v);
  return { key, value: value.length === 0 ? null : value, keyOffset: lead };
}

function lower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/**
 * The options of a rule that matched, checked in order as libwrap's process_options() does.
 * `rule.options` are the raw fields; a rule without a second `:` has none.
 */
export function processRuleOptions(rule: HostsRule, checks: OptionChecks = {}): RuleOptions {
  const options: WrapOption[] = [];
  const fields = rule.options;
  for (const [i, field] of fields.entries()) {
    const { key, value, keyOffset } = splitOptionField(field.text);
    const at: At = { line: field.line, column: field.column + keyOffset };
    const fail = (message: string): RuleOptions => ({
      options,
      end: 'error',
      error: diag('hosts-option', 'error', { file: rule.file, ...at }, message, Math.max(1, key.length)),
    });
    if (key.length === 0) return fail('missing option name');
    const name = lower(key);
    const flags = KEYWORDS.get(name);
    if (flags === undefined) return fail(`bad option name: "${key}"`);
    if (value === null && (flags & NEED_ARG) !== 0) return fail(`option "${key}" requires value`);
    if (value !== null && (flags & (NEED_ARG | OPT_ARG)) === 0) return fail(`option "${key}" requires no value`);
    if (i + 1 < fields.length && (flags & USE_LAST) !== 0) return fail(`option "${key}" must be at end`);
    const made = makeOption(name, value, at, checks);
    if (typeof made === 'string') return fail(made);
    options.push(made);
    if (made.kind === 'allow' || made.kind === 'deny' || made.kind === 'twist') {
      return { options, end: made.kind, error: null };
    }
  }
  return { options, end: 'end', error: null };
}

/** The option, or the error message libwrap gives for its value. */
function makeOption(name: string, value: string | null, at: At, checks: OptionChecks): WrapOption | string {
  const v = value ?? '';
  switch (name) {
    case 'allow':
      return { kind: 'allow', ...at };
    case 'deny':
      return { kind: 'deny', ...at };
    case 'keepalive':
      return { kind: 'keepalive', ...at };
    case 'spawn':
    case 'twist':
    case 'aclexec':
      return { kind: name, command: v, ...at };
    case 'setenv':
      return { kind: 'setenv', template: v, ...at };
    case 'umask': {
      const mask = scanUnsigned(v, 8);
      if (mask === null || (mask & 0o777) !== mask) return `bad umask value: "${v}"`;
      return { kind: 'umask', mask, ...at };
    }
    case 'nice': {
      if (value === null) return { kind: 'nice', value: 10, ...at };
      const n = scanInt(v);
      if (n === null) return `bad nice value: "${v}"`;
      return { kind: 'nice', value: n, ...at };
    }
    case 'linger': {
      const n = scanInt(v);
      if (n === null || n < 0) return `bad linger value: "${v}"`;
      return { kind: 'linger', seconds: n, ...at };
    }
    case 'rfc931': {
      if (value === null) return { kind: 'rfc931', timeout: null, ...at };
      const n = scanInt(v);
      if (n === null || n <= 0) return `bad rfc931 timeout: "${v}"`;
      return { kind: 'rfc931', timeout: n, ...at };
    }
    case 'banners':
      return { kind: 'banners', dir: v, ...at };
    case 'severity': {
      const dot = v.indexOf('.');
      const facility = dot < 0 ? null : v.slice(0, dot);
      const level = dot < 0 ? v : v.slice(dot + 1);
      if (facility !== null && !SYSLOG_FACILITIES.includes(lower(facility))) {
        return `bad syslog facility or severity: "${facility}"`;
      }
      if (!SYSLOG_LEVELS.includes(lower(level))) return `bad syslog facility or severity: "${level}"`;
      return { kind: 'severity', facility: facility === null ? null : lower(facility), level: lower(level), ...at };
    }
    case 'group':
      if (checks.knownGroup !== undefined && !checks.knownGroup(v)) return `unknown group: "${v}"`;
      return { kind: 'group', group: v, ...at };
    case 'user': {
      // user.group: the group is looked up first, as libwrap does.
      const dot = v.indexOf('.');
      const user = dot < 0 ? v : v.slice(0, dot);
      const group = dot < 0 ? null : v.slice(dot + 1);
      if (group !== null && checks.knownGroup !== undefined && !checks.knownGroup(group)) return `unknown group: "${group}"`;
      if (checks.knownUser !== undefined && !checks.knownUser(user)) return `unknown user: "${user}"`;
      return { kind: 'user', user, group, ...at };
    }
    default:
      return `bad option name: "${name}"`;
  }
}

// ---------------------------------------------------------------------------------------------
// % expansion (percent_x.c)

export type PercentNeed = 'client-hostname' | 'server-hostname' | 'client-user';

/** What is known about the connection when an option's text is expanded. */
export interface PercentContext {
  daemon: string;
  /** %p: the pid of the process doing the check. */
  pid: number;
  client: { address: string; port: number | null; hostname?: string; user?: string };
  server: { address: string; port: number | null; hostname?: string };
}

/** The characters libwrap keeps in an expansion; every other one becomes `_`. */
const OK_CHARS = new Set('1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ');

function safe(s: string): string {
  let out = '';
  for (const ch of s) {
    if (OK_CHARS.has(ch)) out += ch;
    else out += '_'.repeat(Buffer.byteLength(ch)); // libwrap works on bytes
  }
  return out;
}

function nameKnown(name: string | undefined): name is string {
  if (name === undefined) return false;
  const l = lower(name);
  return l !== 'unknown' && l !== 'paranoid';
}

/** %h / %H: the host name when it has been looked up and is known, else the address. */
function hostInfo(h: { address: string; hostname?: string }): string {
  return nameKnown(h.hostname) ? h.hostname : h.address;
}

/**
 * The names a template's expansion would look up (%n, %N, %u): look them up first and put
 * them in the context, so that expandPercent does not fall back to `unknown`.
 */
export function percentNeeds(template: string): PercentNeed[] {
  const needs: PercentNeed[] = [];
  for (let i = 0; i + 1 < template.length; i++) {
    if (template[i] !== '%') continue;
    const c = template[i + 1];
    const need: PercentNeed | null = c === 'n' ? 'client-hostname' : c === 'N' ? 'server-hostname' : c === 'u' ? 'client-user' : null;
    if (need !== null && !needs.includes(need)) needs.push(need);
    i++;
  }
  return needs;
}

/** The text templates of an option (what gets % expansion), or null. */
export function optionTemplate(o: WrapOption): string | null {
  switch (o.kind) {
    case 'spawn':
    case 'twist':
    case 'aclexec':
      return o.command;
    case 'setenv':
      return o.template;
    default:
      return null;
  }
}

/**
 * What carrying out these options will look up: the names and user their templates expand
 * (%n, %N, %u) and the IDENT user for rfc931. A banners file's own text is not known here: the
 * caller adds percentNeeds of it.
 */
export function optionNeeds(options: readonly WrapOption[]): PercentNeed[] {
  const needs = new Set<PercentNeed>();
  for (const o of options) {
    if (o.kind === 'rfc931') needs.add('client-user');
    const t = optionTemplate(o);
    if (t !== null) for (const n of percentNeeds(t)) needs.add(n);
  }
  return [...needs];
}

/** The letters after `%` in a template that libwrap does not know (it expands them to nothing). */
export function unknownPercentLetters(template: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < template.length; i++) {
    if (template[i] !== '%') continue;
    const c = template.charAt(++i);
    if (!PERCENT_LETTERS.includes(c)) out.push(c);
  }
  return out;
}

const PERCENT_LETTERS = 'aAcdhHnNprRsu%';

export interface Expansion {
  text: string;
  /** Letters libwrap does not know (it warns "unrecognized %z" and expands them to nothing). */
  unrecognized: string[];
}

/**
 * libwrap's percent_x(): %a %A %c %d %h %H %n %N %p %r %R %s %u %%, each expansion made safe
 * for a shell. A name not in the context expands as libwrap's failed lookup does (`unknown`).
 */
export function expandPercentDetailed(template: string, ctx: PercentContext): Expansion {
  let out = '';
  const unrecognized: string[] = [];
  for (let i = 0; i < template.length; i++) {
    const ch = template.charAt(i);
    if (ch !== '%' || i + 1 >= template.length) {
      out += ch;
      continue;
    }
    const c = template.charAt(++i);
    let e: string;
    switch (c) {
      case 'a':
        e = ctx.client.address;
        break;
      case 'A':
        e = ctx.server.address;
        break;
      case 'c': {
        const host = hostInfo(ctx.client);
        const user = ctx.client.user;
        e = user !== undefined && lower(user) !== 'unknown' ? `${user}@${host}` : host;
        break;
      }
      case 'd':
        e = ctx.daemon;
        break;
      case 'h':
        e = hostInfo(ctx.client);
        break;
      case 'H':
        e = hostInfo(ctx.server);
        break;
      case 'n':
        e = ctx.client.hostname ?? 'unknown';
        break;
      case 'N':
        e = ctx.server.hostname ?? 'unknown';
        break;
      case 'p':
        e = String(ctx.pid);
        break;
      case 'r':
        e = String(ctx.client.port ?? 0);
        break;
      case 'R':
        e = String(ctx.server.port ?? 0);
        break;
      case 's': {
        const host = hostInfo(ctx.server);
        e = lower(host) !== 'unknown' ? `${ctx.daemon}@${host}` : ctx.daemon;
        break;
      }
      case 'u':
        e = ctx.client.user ?? 'unknown';
        break;
      case '%':
        e = '%';
        break;
      default:
        unrecognized.push(c);
        e = '';
    }
    out += safe(e);
  }
  return { text: out, unrecognized };
}

export function expandPercent(template: string, ctx: PercentContext): string {
  return expandPercentDetailed(template, ctx).text;
}

/** The text of an option that takes % expansion, as libwrap hands it on: expanded, then chopped. */
export function expandOptionText(template: string, ctx: PercentContext): string {
  return chop(expandPercent(template, ctx)).text;
}

/**
 * The text the banners option sends from DIR/<daemon>: each line's LF made CRLF, then expanded
 * (so a `%` right before a line end swallows the CR, as in libwrap). Lines longer than libwrap's
 * 8190-byte read are expanded whole here.
 */
export function expandBanner(text: string, ctx: PercentContext): string {
  let out = '';
  for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    out += expandPercent(line.endsWith('\n') ? `${line.slice(0, -1)}\r\n` : line, ctx);
  }
  return out;
}

/** setenv's expanded text cut into name and value at the first blank (libwrap's setenv_option). */
export function setenvFrom(expanded: string): { name: string; value: string } {
  let k = 0;
  while (k < expanded.length && !WHITESPACE.includes(expanded.charAt(k))) k++;
  return { name: chop(expanded.slice(0, k)).text, value: chop(expanded.slice(k + (k < expanded.length ? 1 : 0))).text };
}
