// Service → xinetd.conf(5) text: one `service NAME { ... }` block that the xinetd loader (and
// real xinetd) reads back into the same Service. Used by `tsinetd --convert` (src/convert/convert.ts).
//
// The block is self-contained for the limits a `defaults` section could otherwise change:
// instances, per_source, cps and groups are always written (UNLIMITED, `0 0`, `no` included).
// Logging, access lists, umask, max_load, bind and v6only are written only when the Service sets
// them, so a block without them takes those from the defaults of the xinetd.conf it is read under.
//
// Attributes come in one canonical order (the write order of their rows in src/config/xinetd/attributes.ts,
// whose writers are in src/config/xinetd/attribute-write.ts). `flags` comes before `server_args` because real xinetd
// honours NAMEINARGS only when it reads the flag first. NAMEINARGS is written when the Service
// has it or when argv[0] is not the server's base name (xinetd's own argv[0]); server_args then
// holds argv[0] too. `type = UNLISTED` is added when /etc/services does not give the service's
// name and protocol that port; `port` is always written when the service has one.
//
// What xinetd cannot say (an inetd per-minute rate, FreeBSD's per-source per-minute limit and
// max-child queueing, a word with a blank in it) is not written as an attribute: it becomes a comment in the block
// and an entry of `lost`, for the caller to report. A block missing a word (which would run
// another command than the Service) is written with `disable = yes`.

import { basename } from 'node:path';
import { ATTRIBUTES, handled } from '../config/xinetd/attributes.js';
import type { WriteContext, Writer } from '../config/xinetd/attribute-write.js';
import { systemDb, type SysDb } from '../sys/sysdb.js';
import { inetdRateServed } from '../admission/limits.js';
import type { Service } from '../table.js';
import { startsProgram } from '../service-kind.js';
import { builtinOf } from '../serve/builtins.js';

export interface WriteOptions {
  /** /etc/services, to decide `type = UNLISTED` (default: the system's). */
  db?: SysDb;
  /** Comment lines written above the block (without the leading `# `). */
  header?: readonly string[];
}

/** Something of the Service that the block does not carry. */
export interface LostField {
  /** The Service field, e.g. 'inetd_rate', 'server_argv'. */
  field: keyof Service;
  /** For a word that cannot be written: the word itself. */
  word?: string;
  /** What is lost and what a reader of the block gets instead. */
  message: string;
  /** 'error' when the service behaves differently in a way that matters (a mangled argv). */
  severity: 'error' | 'warning';
}

export interface WrittenService {
  text: string;
  lost: LostField[];
}

/** Service types that do not take their port from /etc/services. */
const PORTLESS_TYPES = ['RPC', 'TCPMUX', 'TCPMUXPLUS'];

/** xinetd words are split on blanks and cannot be quoted: such a word cannot be written. */
export function isWritableWord(word: string): boolean {
  return word.length > 0 && !/\s/.test(word);
}

/** The attributes' writers (src/config/xinetd/attributes.ts), in write order. */
const WRITERS: readonly { attr: string; order: number; handler: Writer }[] = ATTRIBUTES.flatMap((r) =>
  handled(r.write) ? [{ attr: r.name, ...r.write }] : [],
).sort((a, b) => a.order - b.order);

/** Whether xinetd needs `type = UNLISTED` to run this service on its port. */
export function needsUnlisted(s: Service, db: SysDb): boolean {
  if (s.port === null || s.type.includes('UNLISTED') || s.type.some((t) => PORTLESS_TYPES.includes(t))) return false;
  const listed = db.serviceByName(s.name, s.protocol);
  return listed === undefined || listed.port !== s.port;
}

/** Whether argv[0] differs from what xinetd gives without NAMEINARGS (the server's base name). */
export function needsNameInArgs(s: Service): boolean {
  if (s.server === null || s.redirect !== null) return false;
  const argv0 = s.server_argv[0];
  return argv0 !== undefined && argv0 !== basename(s.server);
}

/** The block for one Service, and what it could not carry. */
export function writeService(s: Service, opts: WriteOptions = {}): WrittenService {
  const db = opts.db ?? systemDb;
  const lost: LostField[] = [];
  const rows: [string, string][] = [];
  const notes: string[] = [];
  const runsProgram = startsProgram(s);

  /** Adds `name = words...` when every word can be written; reports the field otherwise. */
  const put = (attr: string, words: readonly string[], field: keyof Service): void => {
    const bad = words.find((w) => !isWritableWord(w));
    if (bad !== undefined) {
      lost.push({
        field,
        word: bad,
        severity: 'error',
        message:
          bad === ''
            ? `an empty word cannot be written in xinetd's '${attr}' (values are split on blanks, without quoting)`
            : `'${bad}' contains a blank: xinetd splits '${attr}' on blanks and has no quoting, so it cannot be written`,
      });
      notes.push(`${attr} not written: a value contains a blank or is empty`);
      return;
    }
    rows.push([attr, words.join(' ')]);
  };

  let name = s.name;
  if (!isWritableWord(name)) {
    name = name.replace(/\s/g, '_') || 'unnamed';
    lost.push({ field: 'name', word: s.name, severity: 'error', message: `the service name '${s.name}' cannot be written in xinetd (written as '${name}')` });
  }

  const nameInArgs = runsProgram && (s.flags.includes('NAMEINARGS') || needsNameInArgs(s));
  const context: WriteContext = {
    put,
    note: (text) => notes.push(text),
    lostAnError: () => lost.some((l) => l.severity === 'error'),
    unlisted: needsUnlisted(s, db),
    runsProgram,
    nameInArgs,
  };
  for (const w of WRITERS) w.handler(s, context, w.attr);

  // What no attribute carries: inetd.conf's limits, kept as comments.
  if (s.instances !== null && s.instances_at_limit === 'queue') {
    notes.push(`FreeBSD max-child ${s.instances}: a client past it waited to be accepted; xinetd's instances refuses it instead`);
    lost.push({
      field: 'instances_at_limit',
      severity: 'warning',
      message:
        `FreeBSD's max-child ${s.instances} made a client past the limit wait until a server ended; xinetd has no queueing: ` +
        `\`instances = ${s.instances}\` refuses that client at once (kept as a comment)`,
    });
  }
  if (s.inetd_rate !== null) {
    const r = s.inetd_rate;
    const what = `${inetdRateServed(r)} starts served in ${r.per_seconds} s, the next one stops the service for ${r.shutdown_seconds} s`;
    notes.push(`inetd rate limit, which xinetd does not have: ${what}`);
    lost.push({
      field: 'inetd_rate',
      severity: 'warning',
      message: `inetd's rate limit (${what}) has no xinetd attribute: the converted service has no such limit (kept as a comment)`,
    });
  }
  if ((s.dialect === 'inetd-freebsd' || s.dialect === 'inetd-gnu') && builtinOf(s) === 'tcpmux') {
    const how =
      'no `help`, `-Service name not found` for an unknown name, `+Go` followed by a NUL byte, and a request must come in one segment ending in CR LF';
    const whose = s.dialect === 'inetd-gnu' ? "GNU inetutils'" : "FreeBSD's";
    notes.push(`xinetd's tcpmux is not ${whose}: ${how}`);
    lost.push({ field: 'type', severity: 'warning', message: `xinetd's tcpmux answers differently from ${whose}: ${how} (kept as a comment)` });
  }
  if (s.per_source_per_minute !== null) {
    notes.push(`FreeBSD per-source limit, which xinetd does not have: at most ${s.per_source_per_minute} connections a minute from one address`);
    lost.push({
      field: 'per_source_per_minute',
      severity: 'warning',
      message: `FreeBSD's limit of ${s.per_source_per_minute} connections a minute per client address has no xinetd attribute: the converted service has no such limit (kept as a comment)`,
    });
  }

  const width = Math.max(...rows.map(([n]) => n.length));
  const lines: string[] = [];
  for (const h of (opts.header ?? []).flatMap((x) => x.split('\n'))) lines.push(h === '' ? '#' : `# ${h}`);
  lines.push(`service ${name}`, '{');
  for (const n of notes) lines.push(`\t# ${n}`);
  for (const [attr, value] of rows) lines.push(`\t${attr.padEnd(width)} = ${value}`.trimEnd());
  lines.push('}');
  return { text: lines.join('\n') + '\n', lost };
}

/** The xinetd.d block for one Service (see writeService for what it contains). */
export function serviceToXinetd(service: Service, opts: WriteOptions = {}): string {
  return writeService(service, opts).text;
}
