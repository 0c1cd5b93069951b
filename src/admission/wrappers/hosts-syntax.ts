// hosts_access(5) tables (hosts.allow, hosts.deny) read as Debian's libwrap 7.6.q reads them:
// the file as located rules, plus the point where libwrap stops trusting it. Pure (the caller
// reads the file); never throws.
//
// Line handling copies libwrap's xgets() and table_match() byte for byte: fgets() into a
// 2048-byte buffer, a backslash right before a newline joins the next line with nothing in
// between, a line that does not end in a newline (too long, or the last line of the file)
// stops the table there ("ERR": rules before it still apply), a NUL byte ends what C sees of a
// physical line, `#` makes a comment only as the first byte of a logical line, blank lines are
// skipped and a line with no field separator is skipped with a warning. One logical line is
// then cut by the grammar (grammar/hosts.peggy).
//
// Positions: `line` is the physical line (1-based) and `column` the byte column (1-based) of a
// token's first byte; for ASCII text, byte and character columns are the same.

import * as grammar from '../../../grammar/hosts.js';
import type { HostsLine, HostsLineToken } from '../../../grammar/hosts.js';
import { diag, type Diagnostic } from '../../diagnostics.js';
import { present } from '../../util/invariant.js';

/** A pattern, an option field or a keyword, where it was written. */
export interface HostsToken {
  text: string;
  line: number;
  column: number;
}

export interface HostsRule {
  file: string;
  /** Position of the rule's first token. */
  line: number;
  column: number;
  /** The line number libwrap gives this rule in its messages ("matched: hosts.deny line N"):
   * its own count of newlines read so far, i.e. the last physical line of the logical line
   * (a physical line holding a NUL byte is not counted, as in libwrap). */
  libwrapLine: number;
  daemons: HostsToken[];
  clients: HostsToken[];
  /** The option fields, raw and unvalidated: `\:` already read as `:`, blanks kept. */
  options: HostsToken[];
  /** The line had a second field separator. libwrap then runs its option processing even when
   * no option field follows (which matters to a failed aclexec earlier in the request). */
  hasOptions: boolean;
}

export type HostsFaultReason = 'missing-newline' | 'line-too-long' | 'unreadable';

/** Where libwrap gives up on the table: reaching this point makes the table answer ERR. */
export interface HostsFault {
  line: number;
  column: number;
  message: string;
  reason: HostsFaultReason;
  /** libwrap's line number for its message. */
  libwrapLine: number;
}

export interface HostsTable {
  path: string;
  rules: HostsRule[];
  fault: HostsFault | null;
  /** libwrap's warnings about the file, located. */
  diagnostics: Diagnostic[];
}

/** libwrap's line buffer (BUFLEN in hosts_access.c): a logical line needs its newline within it. */
export const HOSTS_LINE_BUFFER = 2048;

/** A table that exists but cannot be opened: libwrap answers ERR at once (hosts.deny then denies). */
export function unreadableTable(path: string, message: string): HostsTable {
  const text = `cannot open ${path}: ${message}`;
  return {
    path,
    rules: [],
    fault: { line: 1, column: 1, message: text, reason: 'unreadable', libwrapLine: 0 },
    diagnostics: [diag('unreadable-file', 'warning', { file: path, line: 1, column: 1 }, text)],
  };
}

/** A table whose file does not exist (ENOENT): libwrap treats it as empty. */
export function emptyTable(path: string): HostsTable {
  return { path, rules: [], fault: null, diagnostics: [] };
}

/** One piece of a logical line, copied from the file at `fileOffset`. */
interface Segment {
  logicalStart: number;
  fileOffset: number;
}

interface LogicalLine {
  /** The line's bytes, one character per byte (latin1). */
  text: string;
  segments: Segment[];
  /** The line ends in a newline (else libwrap's "missing newline or line too long"). */
  complete: boolean;
  /** The line filled the buffer. */
  full: boolean;
  /** libwrap's line counter after reading this line. */
  counter: number;
  /** File offset just after the last byte read. */
  end: number;
}

/** The next NUL byte at or after an offset; offsets only grow, so each search starts where the last ended. */
class NulFinder {
  private next = -2;
  constructor(private readonly data: string) {}
  from(offset: number): number {
    if (this.next !== -1 && this.next < offset) this.next = this.data.indexOf('\0', offset);
    return this.next;
  }
}

/**
 * libwrap's xgets(): fgets() calls into one buffer of HOSTS_LINE_BUFFER bytes, joining lines
 * that end in backslash-newline. `data` holds the file one character per byte. Returns null at
 * the end of the file.
 */
function readLogicalLine(data: string, start: number, counter: number, nuls: NulFinder): LogicalLine | null {
  let pos = start;
  let room = HOSTS_LINE_BUFFER; // fgets(ptr, len): reads at most len - 1 bytes
  let text = '';
  const segments: Segment[] = [];
  const line = (complete: boolean, full: boolean): LogicalLine => ({ text, segments, complete, full, counter, end: pos });
  while (pos < data.length) {
    const nl = data.indexOf('\n', pos);
    const lineEnd = nl < 0 ? data.length : nl + 1;
    const take = Math.min(room - 1, lineEnd - pos);
    const chunkStart = pos;
    pos += take;
    // What C sees of the chunk: up to its first NUL byte.
    const nul = nuls.from(chunkStart);
    let got = nul < 0 || nul >= pos ? take : nul - chunkStart;
    if (got >= 1 && data[chunkStart + got - 1] === '\n') {
      counter++;
      if (got >= 2 && data[chunkStart + got - 2] === '\\') {
        got -= 2;
      } else {
        segments.push({ logicalStart: text.length, fileOffset: chunkStart });
        text += data.slice(chunkStart, chunkStart + got);
        return line(true, false);
      }
    }
    if (got > 0) {
      segments.push({ logicalStart: text.length, fileOffset: chunkStart });
      text += data.slice(chunkStart, chunkStart + got);
    }
    room -= got;
    if (room === 1) return line(false, true);
  }
  return text.length > 0 ? line(false, false) : null;
}

/** Start offsets of the physical lines, for turning file offsets into line and column. */
function lineStarts(data: string): number[] {
  const starts = [0];
  let i = data.indexOf('\n');
  while (i >= 0) {
    starts.push(i + 1);
    i = data.indexOf('\n', i + 1);
  }
  return starts;
}

class Locator {
  private readonly starts: number[];
  private hint = 0;
  constructor(data: string) {
    this.starts = lineStarts(data);
  }
  /** 1-based line and byte column of a file offset. Offsets mostly grow, so search from the last answer. */
  at(offset: number): { line: number; column: number } {
    const s = this.starts;
    const start = (k: number): number => present(s[k], 'a start for each line below s.length');
    let i = this.hint;
    if (start(i) > offset) i = 0;
    if (i + 1 < s.length && start(i + 1) <= offset) {
      let lo = i + 1;
      let hi = s.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (start(mid) <= offset) lo = mid;
        else hi = mid - 1;
      }
      i = lo;
    }
    this.hint = i;
    return { line: i + 1, column: offset - start(i) + 1 };
  }
}

function fileOffset(line: LogicalLine, logical: number): number {
  const segs = line.segments;
  // The last segment starting at or before `logical`; the first one if none does.
  let seg = present(segs[0], 'a line of at least one segment');
  for (const s of segs) if (s.logicalStart <= logical) seg = s;
  return seg.fileOffset + (logical - seg.logicalStart);
}

const NON_ASCII = /[\x80-\uffff]/;

/** Bytes of the logical line (as a one-char-per-byte string) to text: UTF-8 when not ASCII. */
function decode(binary: string): string {
  return NON_ASCII.test(binary) ? Buffer.from(binary, 'latin1').toString('utf8') : binary;
}

const BLANK = /^[ \t\r\n]*$/;

/** Parses a hosts.allow or hosts.deny text (bytes, or a string taken as UTF-8). */
export function parseHostsFile(path: string, text: string | Uint8Array): HostsTable {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const where = new Locator(data);
  const nuls = new NulFinder(data);
  const rules: HostsRule[] = [];
  const diagnostics: Diagnostic[] = [];
  let fault: HostsFault | null = null;
  let pos = 0;
  let counter = 0;
  for (;;) {
    const line = readLogicalLine(data, pos, counter, nuls);
    if (line === null) break;
    const firstPhysical = where.at(line.segments[0]?.fileOffset ?? pos);
    pos = line.end;
    counter = line.counter;
    if (!line.complete) {
      const off = line.full ? line.end : data.length;
      const at = where.at(off);
      const reason: HostsFaultReason = line.full ? 'line-too-long' : 'missing-newline';
      fault = { line: at.line, column: at.column, message: 'missing newline or line too long', reason, libwrapLine: counter };
      diagnostics.push(
        diag('hosts-syntax', 'warning', { file: path, line: at.line, column: at.column }, 'missing newline or line too long'),
        diag('hosts-syntax', 'warning', { file: path, line: at.line, column: at.column }, 'all the subsequent rules will be ignored'),
      );
      break;
    }
    if (line.text[0] === '#' || BLANK.test(line.text)) continue;
    let parsed: HostsLine;
    try {
      parsed = grammar.parse(line.text) as HostsLine;
    } catch (err) {
      // The grammar accepts every line; this only guards against a fault in the generated code.
      diagnostics.push(diag('hosts-syntax', 'warning', { file: path, ...firstPhysical }, `cannot read this line: ${String(err)}`));
      continue;
    }
    const locate = (offset: number): { line: number; column: number } => where.at(fileOffset(line, offset));
    const token = (t: HostsLineToken): HostsToken => ({ text: decode(t.text), ...locate(t.offset) });
    const daemons = parsed.daemons.map(token);
    if (parsed.clients === null) {
      const at = daemons[0] ?? { ...firstPhysical };
      diagnostics.push(diag('hosts-syntax', 'warning', { file: path, line: at.line, column: at.column }, 'missing ":" separator'));
      continue;
    }
    const first = daemons[0] ?? locate(0);
    rules.push({
      file: path,
      line: first.line,
      column: first.column,
      libwrapLine: counter,
      daemons,
      clients: parsed.clients.map(token),
      options: parsed.options === null ? [] : parsed.options.fields.map((f) => ({ text: decode(f.text), ...locate(f.offset) })),
      hasOptions: parsed.options !== null,
    });
  }
  return { path, rules, fault, diagnostics };
}
