// Which inetd.conf dialect a file is written in, decided per file from evidence in it.
//
// The two families differ in what the same text means (`tcp` is IPv4 and IPv6 for OpenBSD,
// Debian openbsd-inetd, GNU inetutils and busybox, but IPv4 only for FreeBSD) and in their
// extensions. Evidence, from the entries (comment lines aside):
//   FreeBSD  a `/` in the wait field (`nowait/max-child/...`), a `/login-class` in the user
//            field, a `#@` IPsec policy line, a `tcpmux/` service or the internal tcpmux, a
//            `:user:group:mode:` unix socket prefix;
//   OpenBSD  a `.max` in the wait field (`nowait.400`), a `host:` prefix or default-host line,
//            a `,sndbuf=`/`,rcvbuf=` protocol option.
// Only when the entries show neither does a version tag in a comment decide (`$FreeBSD: ...`,
// `$OpenBSD: ...`); otherwise the file is read as OpenBSD/Linux, the dialect of the Linux
// inetds that tsinetd replaces. When both kinds of evidence appear, the more frequent wins
// (OpenBSD on a tie) and a warning names one place of each.

import { diag, type Diagnostic } from '../../diagnostics.js';
import type { InetdNode, InetdWord } from './inetd-syntax.js';
import { INETD_RATE_RULES } from '../../admission/limits.js';
import type { InetdFileDialect } from '../../table.js';

/**
 * 'gnu' (GNU inetutils) is never decided from a file: its syntax is OpenBSD's, and what differs
 * (how `.N` counts, plain tcp/udp being IPv4 only) shows nowhere in the text. It is chosen with
 * --dialect gnu.
 */
export type ResolvedInetdDialect = InetdFileDialect;

export interface Evidence {
  dialect: ResolvedInetdDialect;
  line: number;
  column: number;
  /** What was seen, e.g. "`nowait/3/10` in the wait field". */
  what: string;
}

export interface DialectDecision {
  dialect: ResolvedInetdDialect;
  /** The evidence that decided, null when nothing in the file did (the default applies). */
  evidence: Evidence | null;
  diagnostics: Diagnostic[];
}

const at = (dialect: ResolvedInetdDialect, w: InetdWord, what: string, offset = 0): Evidence => ({
  dialect,
  line: w.line,
  column: w.column + offset,
  what,
});

/** The evidence one entry carries, in field order. */
export function entryEvidence(words: readonly InetdWord[]): Evidence[] {
  const out: Evidence[] = [];
  let fields = words;
  const first = words[0];
  if (first === undefined) return out;
  if (first.text.startsWith(':')) {
    out.push(at('freebsd', first, '`:user:group:mode:` unix socket prefix'));
  } else if (first.text.includes(':')) {
    out.push(at('openbsd', first, '`host:` prefix'));
    // `host: service ...` with a blank after the colon: the service is the next word.
    if (first.text.endsWith(':')) fields = words.slice(1);
  }
  const service = fields[0];
  if (service !== undefined && service.text.startsWith('tcpmux/')) out.push(at('freebsd', service, '`tcpmux/` service'));
  // The internal tcpmux service: 4.4BSD's inetd and FreeBSD's, its descendant, serve it; the
  // OpenBSD inetd (Debian's openbsd-inetd, measured) drops the line.
  if (service !== undefined && service.text.toLowerCase() === 'tcpmux' && fields[5]?.text === 'internal')
    out.push(at('freebsd', service, 'the internal `tcpmux` service'));
  const proto = fields[2];
  if (proto !== undefined && /,(sndbuf|rcvbuf)=/.test(proto.text)) {
    out.push(at('openbsd', proto, `\`${proto.text}\` protocol options`, proto.text.indexOf(',')));
  }
  const wait = fields[3];
  if (wait !== undefined && /^(no)?wait\//.test(wait.text)) {
    out.push(at('freebsd', wait, `\`${wait.text}\` in the wait field`));
  } else if (wait !== undefined && /^(no)?wait\./.test(wait.text)) {
    out.push(at('openbsd', wait, `\`${wait.text}\` in the wait field`));
  }
  const user = fields[4];
  if (user !== undefined && user.text.includes('/')) {
    out.push(at('freebsd', user, `\`${user.text}\` login class in the user field`, user.text.indexOf('/')));
  }
  return out;
}

function describe(e: Evidence): string {
  return `${e.what} (line ${e.line})`;
}

/** Decides the dialect of a file from its nodes. */
export function detectDialect(file: string, nodes: readonly InetdNode[]): DialectDecision {
  const strong: Evidence[] = [];
  const tags: Evidence[] = [];
  for (const node of nodes) {
    if (node.kind === 'policy') {
      strong.push({ dialect: 'freebsd', line: node.line, column: 1, what: '`#@` IPsec policy line' });
    } else if (node.kind === 'comment') {
      const m = /\$(FreeBSD|OpenBSD)[:$]/.exec(node.text);
      if (m !== null) {
        tags.push({
          dialect: m[1] === 'FreeBSD' ? 'freebsd' : 'openbsd',
          line: node.line,
          column: 2 + m.index,
          what: `\`$${m[1]}\` version tag`,
        });
      }
    } else if (!(node.indented && node.words[0]?.text.startsWith('#'))) {
      strong.push(...entryEvidence(node.words));
    }
  }

  const freebsd = strong.filter((e) => e.dialect === 'freebsd');
  const openbsd = strong.filter((e) => e.dialect === 'openbsd');
  const diagnostics: Diagnostic[] = [];
  let evidence: Evidence | null;
  const [firstFreebsd] = freebsd;
  const [firstOpenbsd] = openbsd;
  if (firstFreebsd !== undefined && firstOpenbsd !== undefined) {
    const freebsdWins = freebsd.length > openbsd.length;
    evidence = freebsdWins ? firstFreebsd : firstOpenbsd;
    const loserFirst = freebsdWins ? firstOpenbsd : firstFreebsd;
    diagnostics.push(
      diag(
        'inetd-dialect',
        'warning',
        { file, line: loserFirst.line, column: loserFirst.column },
        `this file mixes inetd.conf dialects: ${describe(loserFirst)} is ${dialectName(loserFirst.dialect)} syntax, ` +
          `${describe(evidence)} is ${dialectName(evidence.dialect)} syntax; reading the file as ${dialectName(evidence.dialect)}`,
      ),
    );
  } else {
    evidence = firstFreebsd ?? firstOpenbsd ?? tags[0] ?? null;
  }
  const dialect = evidence?.dialect ?? 'openbsd';
  if (dialect === 'freebsd' && evidence !== null) {
    diagnostics.push(
      diag(
        'inetd-dialect',
        'note',
        { file, line: evidence.line, column: evidence.column },
        `reading this file as FreeBSD inetd.conf because of ${evidence.what} (so \`tcp\` and \`udp\` mean IPv4 only)`,
      ),
    );
  }
  return { dialect, evidence, diagnostics };
}

/** How diagnostics and converted files name a dialect. */
export function dialectName(d: ResolvedInetdDialect): string {
  return d === 'freebsd' ? 'FreeBSD' : d === 'gnu' ? 'GNU inetutils' : 'OpenBSD/Linux';
}

/** What --check says about a file read as `d`: the dialect and how it counts `.N` and max-child. */
export function readingSummary(d: ResolvedInetdDialect): string {
  const o = INETD_RATE_RULES.openbsd;
  const g = INETD_RATE_RULES.gnu;
  if (d === 'freebsd') {
    return (
      `read as FreeBSD inetd.conf: /max-child queues clients at the limit (they wait to be accepted), ` +
      `and ${o.defaultMax} starts within ${o.windowSeconds} s stop a service for ${o.shutdownSeconds / 60} minutes`
    );
  }
  if (d === 'gnu') {
    return (
      `read as GNU inetutils inetd.conf: \`.N\` serves N starts within ${g.windowSeconds} s and the next one stops the service ` +
      `for ${g.shutdownSeconds / 60} minutes (default and ceiling ${g.defaultMax}); plain tcp/udp are IPv4 only`
    );
  }
  return (
    `read as OpenBSD/Linux inetd.conf: the N-th start within ${o.windowSeconds} s of \`.N\` stops the service ` +
    `for ${o.shutdownSeconds / 60} minutes (default ${o.defaultMax}); for GNU inetutils' counting use --dialect gnu`
  );
}
