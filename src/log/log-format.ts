// Pure formatting of log events: xinetd's exact service and daemon lines, and the JSON schema.
//
// Service lines (xinetd.log(5), measured against xinetd 2.3.15.3):
//   FILE:    "05/3/4@05:06:07: START: t1 pid=5448 from=::ffff:127.0.0.1"
//   SYSLOG:  the same text without the timestamp ("START: t1 pid=5448 from=..."); syslog adds
//            "Mmm dd hh:mm:ss xinetd[PID]: " itself.
// Which lines and fields appear is decided here from log_on_success / log_on_failure, exactly as
// xinetd decides it (see shouldLog* below). Daemon lines have three shapes, one per destination:
//   -filelog:  "05/3/4@05:06:07 xinetd[5406]: NOTICE: Started working: 3 available services"
//   terminal:  "05/3/4@05:06:07: NOTICE: 6145 {main} Started working: 2 available services"
//   syslog:    "Started working: 2 available services"

import type { DaemonLevel, LogEvent } from './log-types.js';
import { daemonMessage, shownCode } from '../message-codes.js';
import type { Service } from '../table.js';
import { present } from '../util/invariant.js';

export type ServiceEvent = Exclude<LogEvent, { kind: 'daemon' }>;
export type DaemonEvent = Extract<LogEvent, { kind: 'daemon' }>;

/** Where a daemon line goes; each destination has its own xinetd shape. */
export type DaemonStyle = 'file' | 'terminal' | 'syslog';

/** The program name xinetd puts in its daemon lines and syslog ident (fail2ban's `_daemon = xinetd`). */
export const DEFAULT_IDENT = 'xinetd';

/** xinetd's LOG_EXTRA_MIN / LOG_EXTRA_MAX: bounds of the default gap between soft and hard limit. */
export const LOG_EXTRA_MIN = 5 * 1024;
export const LOG_EXTRA_MAX = 20 * 1024;

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** The stamp of the latest second formatted: a busy daemon writes many lines per second. */
let stampCache = { second: NaN, offset: NaN, text: '' };

/** xinetd's local-time stamp: two-digit year, month and day unpadded, time padded ("05/3/4@05:06:07"). */
export function xinetdTimestamp(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  // The local time is the UTC second and the zone's offset (which TZ may change at run time).
  const offset = date.getTimezoneOffset();
  if (second === stampCache.second && offset === stampCache.offset) return stampCache.text;
  const text =
    `${pad2(date.getFullYear() % 100)}/${date.getMonth() + 1}/${date.getDate()}` +
    `@${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  stampCache = { second, offset, text };
  return text;
}

/** The hard limit xinetd uses when only a soft one is given: soft + 1%, the extra kept within 5K..20K. */
export function defaultHardLimit(soft: number): number {
  const extra = Math.min(Math.max(Math.floor(soft / 100), LOG_EXTRA_MIN), LOG_EXTRA_MAX);
  return soft + extra;
}

/**
 * Replaces control characters so that one event is always one line: USERID text comes from the
 * remote host and must not be able to forge extra lines (fail2ban reads these logs).
 */
export function sanitize(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

function has(list: readonly string[], flag: string): boolean {
  return list.some((f) => f.toUpperCase() === flag);
}

/** START is written when log_on_success has any flag at all (xinetd's LOGS_ANY). */
export function logsStart(s: Service): boolean {
  return s.log_on_success.length > 0;
}

/** EXIT is written only when log_on_success has EXIT or DURATION. */
export function logsExit(s: Service): boolean {
  return has(s.log_on_success, 'EXIT') || has(s.log_on_success, 'DURATION');
}

/** FAIL is written when log_on_failure has any flag (ATTEMPT alone gives a FAIL line without from=). */
export function logsFailure(s: Service): boolean {
  return s.log_on_failure.length > 0;
}

export function logsTraffic(s: Service): boolean {
  return has(s.log_on_success, 'TRAFFIC');
}

export function logsUserid(s: Service): boolean {
  return has(s.log_on_success, 'USERID') || has(s.log_on_failure, 'USERID');
}

/** Seconds as xinetd prints them: whole, never negative. */
function wholeSeconds(x: number): number {
  return Number.isFinite(x) && x > 0 ? Math.floor(x) : 0;
}

type Fields = Array<[string, string | number]>;

/** The ordered fields of a service line, or null when the service's flags say it is not logged. */
function serviceFields(e: ServiceEvent): { entry: string; head: string | null; fields: Fields } | null {
  const s = e.service;
  switch (e.kind) {
    case 'START': {
      if (!logsStart(s)) return null;
      const fields: Fields = [];
      // Internal services have no process: xinetd logs pid=0 for them.
      if (has(s.log_on_success, 'PID')) fields.push(['pid', e.pid ?? 0]);
      if (has(s.log_on_success, 'HOST') && e.peer !== null) fields.push(['from', e.peer.address]);
      return { entry: 'START', head: null, fields };
    }
    case 'EXIT': {
      if (!logsExit(s)) return null;
      const fields: Fields = [];
      if (has(s.log_on_success, 'EXIT')) {
        if (e.signal !== null) fields.push(['signal', e.signal]);
        else if (e.status !== null) fields.push(['status', e.status]);
      }
      if (has(s.log_on_success, 'PID')) fields.push(['pid', e.pid]);
      if (has(s.log_on_success, 'DURATION')) fields.push(['duration', wholeSeconds(e.durationSeconds)]);
      return { entry: 'EXIT', head: null, fields };
    }
    case 'FAIL': {
      if (!logsFailure(s)) return null;
      const fields: Fields = [];
      if (has(s.log_on_failure, 'HOST') && e.peer !== null) fields.push(['from', e.peer.address]);
      return { entry: 'FAIL', head: e.reason, fields };
    }
    case 'TRAFFIC':
      if (!logsTraffic(s)) return null;
      return {
        entry: 'TRAFFIC',
        head: null,
        fields: [
          ['in', e.inBytes],
          ['out', e.outBytes],
        ],
      };
    case 'USERID':
      if (!logsUserid(s)) return null;
      return { entry: 'USERID', head: e.text, fields: [] };
  }
}

const UNITS: Record<string, string> = { duration: '(sec)', in: '(bytes)', out: '(bytes)' };

/** The text of a service line without timestamp (what syslog receives), or null when not logged. */
export function serviceBody(e: ServiceEvent): string | null {
  const f = serviceFields(e);
  if (f === null) return null;
  let line = `${f.entry}: ${sanitize(e.service.id)}`;
  if (f.head !== null) line += ' ' + sanitize(f.head);
  for (const [k, v] of f.fields) line += ` ${k}=${typeof v === 'string' ? sanitize(v) : v}${UNITS[k] ?? ''}`;
  return line;
}

/** A FILE line: timestamp, colon, body. */
export function formatServiceLine(e: ServiceEvent, now: Date): string | null {
  const body = serviceBody(e);
  return body === null ? null : `${xinetdTimestamp(now)}: ${body}`;
}

type Of<K extends ServiceEvent['kind']> = Extract<ServiceEvent, { kind: K }>;

/** "YY/M/D@HH:MM:SS: START: id [pid=N] [from=ADDR]", or null when log_on_success is empty. */
export const formatStart = (e: Of<'START'>, now: Date): string | null => formatServiceLine(e, now);
/** "...: EXIT: id [status=N|signal=N] [pid=N] [duration=N(sec)]", or null without EXIT/DURATION. */
export const formatExit = (e: Of<'EXIT'>, now: Date): string | null => formatServiceLine(e, now);
/** "...: FAIL: id reason [from=ADDR]", or null when log_on_failure is empty. */
export const formatFail = (e: Of<'FAIL'>, now: Date): string | null => formatServiceLine(e, now);
/** "...: TRAFFIC: id in=N(bytes) out=N(bytes)", or null without TRAFFIC. */
export const formatTraffic = (e: Of<'TRAFFIC'>, now: Date): string | null => formatServiceLine(e, now);
/** "...: USERID: id text", or null without USERID in either list. */
export const formatUserid = (e: Of<'USERID'>, now: Date): string | null => formatServiceLine(e, now);

const LEVEL_WORD: Record<DaemonLevel, string> = {
  error: 'ERROR',
  warning: 'WARNING',
  notice: 'NOTICE',
  info: 'INFO',
  debug: 'DEBUG',
};

export interface DaemonFormatOptions {
  style: DaemonStyle;
  pid: number;
  ident?: string;
}

/**
 * A daemon message in the shape xinetd uses for that destination (see the file header). A message
 * in tsinetd's own words ends with its code in brackets (message-codes.ts); xinetd's stay as is.
 */
export function formatDaemon(e: DaemonEvent, now: Date, opts: DaemonFormatOptions): string {
  const code = shownCode(e);
  const message = code === null ? sanitize(e.message) : `${sanitize(e.message)} [${code}]`;
  switch (opts.style) {
    case 'file':
      return `${xinetdTimestamp(now)} ${opts.ident ?? DEFAULT_IDENT}[${opts.pid}]: ${LEVEL_WORD[e.level]}: ${message}`;
    case 'terminal':
      return `${xinetdTimestamp(now)}: ${LEVEL_WORD[e.level]}: ${opts.pid} {${sanitize(e.func ?? 'main')}} ${message}`;
    case 'syslog':
      return message;
  }
}

/**
 * One JSON object per event (--log-format json). Service events carry the same fields as the
 * text line (chosen by the same log_on_* flags), named as in the text:
 *   {"time":ISO-8601,"event":"START","service":id,"pid":N,"from":ADDR}
 *   {"time",...,"event":"EXIT","service",["status"|"signal"],"pid","duration"}
 *   {"time",...,"event":"FAIL","service","reason","from"}
 *   {"time",...,"event":"TRAFFIC","service","in","out"}   {"time",...,"event":"USERID","service","text"}
 * Daemon events: {"time","event":"daemon","level","code","diagnostic"?,"pid","func"?,"message"}
 * (code: message-codes.ts; diagnostic: the tsinetd.conf(5) code of a configuration problem).
 * Returns null when the text line would not be written either.
 */
export function formatJson(e: DaemonEvent, now: Date, daemonPid: number): string;
export function formatJson(e: LogEvent, now: Date, daemonPid: number): string | null;
export function formatJson(e: LogEvent, now: Date, daemonPid: number): string | null {
  const time = now.toISOString();
  if (e.kind === 'daemon') {
    const o: Record<string, string | number> = { time, event: 'daemon', level: e.level, code: e.code };
    if (e.diagnostic !== undefined) o['diagnostic'] = e.diagnostic;
    o['pid'] = daemonPid;
    if (e.func !== undefined) o['func'] = e.func;
    o['message'] = e.message;
    return JSON.stringify(o);
  }
  const f = serviceFields(e);
  if (f === null) return null;
  const o: Record<string, string | number> = { time, event: f.entry, service: e.service.id };
  if (e.kind === 'FAIL') o['reason'] = e.reason;
  if (e.kind === 'USERID') o['text'] = e.text;
  for (const [k, v] of f.fields) o[k] = v;
  return JSON.stringify(o);
}

/**
 * A daemon message for log-flood protection: whoever rate-limits FAIL lines reports how many it
 * held back with this event once the burst is over.
 */
export function suppressedEvent(service: Service, count: number, entry = 'FAIL'): DaemonEvent {
  return daemonMessage(
    'fail-lines-suppressed',
    'warning',
    `${count} similar ${entry} line${count === 1 ? '' : 's'} of service ${service.id} suppressed`,
    'log_flood',
  );
}

export const SYSLOG_FACILITIES: Readonly<Record<string, number>> = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

export const SYSLOG_LEVELS: Readonly<Record<string, number>> = {
  emerg: 0,
  alert: 1,
  crit: 2,
  err: 3,
  error: 3,
  warning: 4,
  warn: 4,
  notice: 5,
  info: 6,
  debug: 7,
};

/** The syslog PRI value (facility * 8 + severity); unknown names fall back to daemon / info. */
export function syslogPriority(facility: string, level: string): number {
  const f = facility.toLowerCase();
  const l = level.toLowerCase();
  const fac = present(Object.hasOwn(SYSLOG_FACILITIES, f) ? SYSLOG_FACILITIES[f] : SYSLOG_FACILITIES['daemon'], 'a facility of the table');
  const sev = present(Object.hasOwn(SYSLOG_LEVELS, l) ? SYSLOG_LEVELS[l] : SYSLOG_LEVELS['info'], 'a level of the table');
  return fac * 8 + sev;
}
