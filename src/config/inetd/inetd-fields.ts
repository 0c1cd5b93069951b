// The fields of one inetd.conf entry, checked and given their meaning in each dialect (see
// inetd-build.ts for the whole mapping). Each reader reports located diagnostics and returns
// null when the field makes the entry unusable. Pure apart from the injected lookups.

import type { DiagnosticCode } from '../../diagnostic-codes.js';
import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { diag, type Diagnostic, type Severity, type SourcePosition } from '../../diagnostics.js';
import type { ResolvedInetdDialect } from './inetd-dialect.js';
import { INETD_RATE_RULES } from '../../admission/limits.js';
import { parseField, positionIn, type HostPiece, type InetdWord, type WordPiece } from './inetd-syntax.js';
import { systemDb, type SysDb } from '../../sys/sysdb.js';
import { readRpcServiceField, type RpcServiceField } from './inetd-rpc.js';
import { readMuxServiceField, type MuxServiceField } from './inetd-tcpmux.js';
import type { InetdRateFlavour, SocketType } from '../../table.js';
import { present } from '../../util/invariant.js';

/** Whose `.N` rule a dialect follows (FreeBSD has no `.N`, but its global rate is OpenBSD's). */
export function rateFlavourOf(dialect: ResolvedInetdDialect): InetdRateFlavour {
  return dialect === 'gnu' ? 'gnu' : 'openbsd';
}

/** Both BSD inetds keep at most this many arguments (MAXARGV). */
export const INETD_MAX_ARGS = 20;
/** FreeBSD's largest max-child (MAX_MAXCHLD). */
export const FREEBSD_MAX_CHILD = 32767;

const BUILTINS = ['echo', 'discard', 'chargen', 'daytime', 'time'] as const;

export interface InetdBuildEnv {
  db: SysDb;
  /** Why `path` cannot be run (missing, not a file, not executable), or null when it can. */
  programProblem(path: string): string | null;
}

function defaultProgramProblem(path: string): string | null {
  try {
    if (!statSync(path).isFile()) return `server program ${path} is not a regular file`;
    accessSync(path, constants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `server program ${path} does not exist`;
    if (code === 'EACCES') return `server program ${path} is not executable`;
    return `server program ${path} cannot be checked (${code ?? String(err)})`;
  }
}

export const defaultInetdBuildEnv: InetdBuildEnv = { db: systemDb, programProblem: defaultProgramProblem };

/** IPv4, IPv6 (v6only), or one dual-stack socket (`tcp46`). */
export type Family = '4' | '6' | '46';

/** Parses C strtoul(s, &end, 0) over the whole string: decimal, 0x hex or 0 octal; NaN otherwise. */
export function parseCUnsigned(s: string): number {
  if (/^[1-9][0-9]*$/.test(s)) return Number(s);
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) return Number.parseInt(s.slice(2), 16);
  if (/^0[0-7]*$/.test(s)) return s.length === 1 ? 0 : Number.parseInt(s.slice(1), 8);
  return Number.NaN;
}

/** What the wait field says: the mode and the limits that ride on it. */
export interface WaitMeaning {
  wait: boolean;
  /** The `.N` written (null: none, or one the inetd ignores; the flavour's default applies). */
  rateMax: number | null;
  /** FreeBSD max-child, max-connections-per-ip-per-minute, max-child-per-ip (null = none). */
  instances: number | null;
  perSourcePerMinute: number | null;
  perSource: number | null;
}

/** What the protocol field says: the transport, the address families, and whether it is RPC or a unix socket. */
export type ProtocolMeaning = { base: 'tcp' | 'udp'; families: Set<Family>; written: string; unix: boolean; rpc: boolean };

/** Reads the fields of entries; collects the diagnostics (subclassed by the entry reader). */
export class FieldReader {
  readonly diagnostics: Diagnostic[] = [];
  /** Warnings about the Service's problems, kept only when the entry is not skipped anyway. */
  protected pending: Diagnostic[] = [];

  constructor(
    protected readonly file: string,
    protected readonly dialect: ResolvedInetdDialect,
    protected readonly env: InetdBuildEnv,
  ) {}

  protected report(code: DiagnosticCode, severity: Severity, at: SourcePosition, message: string, length?: number): void {
    this.diagnostics.push(diag(code, severity, at, message, length));
  }

  protected problem(code: DiagnosticCode, at: SourcePosition, message: string, length: number): void {
    this.pending.push(diag(code, 'warning', at, message, length));
  }

  protected pos(word: InetdWord, offset = 0): SourcePosition {
    return positionIn(this.file, word, offset);
  }

  protected internalError(word: InetdWord): [] {
    this.report('internal-error', 'error', this.pos(word), 'internal error: the inetd.conf field parser failed on this word');
    return [];
  }

  protected unsupported(word: InetdWord, what: string, length: number, offset = 0): void {
    this.report('inetd-unsupported', 'error', this.pos(word, offset), `${what} are not supported by tsinetd; entry skipped`, length);
  }

  protected socketType(word: InetdWord): SocketType | null {
    const t = word.text;
    if (t === 'stream' || t === 'dgram') return t;
    if (t === 'raw' || t === 'rdm' || t === 'seqpacket') {
      this.unsupported(word, `${t} sockets`, t.length);
    } else {
      this.report('inetd-bad-field', 'error', this.pos(word), `unknown socket type \`${t}\` (expected stream or dgram)`, t.length);
    }
    return null;
  }

  protected protocol(word: InetdWord, socketType: SocketType | null): ProtocolMeaning | null {
    const shape = parseField('Protocol', word.text);
    if (shape === null) {
      this.internalError(word);
      return null;
    }
    let name = shape.name;
    let ok = true;
    const slash = name.indexOf('/');
    if (this.dialect === 'freebsd' && name.startsWith('tcp') && slash > 0) {
      // FreeBSD keeps what precedes the slash: `tcp/ttcp` (T/TCP, long gone) is plain tcp.
      const rest = name.slice(slash + 1);
      if (rest === 'faith') {
        this.report(
          'inetd-bad-field',
          'error',
          this.pos(word, slash),
          '`/faith` (IPv6-to-IPv4 translation) is deprecated and FreeBSD inetd rejects it',
          rest.length + 1,
        );
        return null;
      }
      this.report('inetd-field-note', 'warning', this.pos(word, slash), `\`/${rest}\` after the protocol is ignored, as FreeBSD inetd does`, rest.length + 1);
      name = name.slice(0, slash);
    }
    for (const opt of shape.options) {
      const text = word.text.slice(opt.offset, opt.offset + opt.length);
      if (opt.key !== 'sndbuf' && opt.key !== 'rcvbuf') {
        this.report(
          'inetd-bad-field',
          'error',
          this.pos(word, opt.offset),
          `unknown protocol option \`${text}\` (expected sndbuf=SIZE or rcvbuf=SIZE)`,
          Math.max(1, opt.length),
        );
        ok = false;
      } else if (opt.value === null || !/^[0-9]+[kKmM]?$/.test(opt.value.text)) {
        this.report(
          'inetd-bad-field',
          'error',
          this.pos(word, opt.offset),
          `bad size in \`${text}\` (a number, optionally followed by k or m)`,
          Math.max(1, opt.length),
        );
        ok = false;
      } else {
        this.report('inetd-unsupported', 'warning', this.pos(word, opt.offset), `tsinetd does not set socket buffer sizes: \`${text}\` is ignored`, opt.length);
      }
    }
    if (name === 'unix') return ok ? { base: socketType === 'dgram' ? 'udp' : 'tcp', families: new Set(), written: name, unix: true, rpc: false } : null;
    // RPC: `rpc/` before the protocol, which keeps its own meaning (families and all), as both inetds read it.
    const rpc = name.startsWith('rpc/');
    const m = /^(tcp|udp)(4|6|46|64)?$/.exec(rpc ? name.slice(4) : name);
    if (m === null) {
      if (rpc) {
        this.report(
          'inetd-bad-field',
          'error',
          this.pos(word),
          `unknown RPC protocol \`${name}\` (expected rpc/tcp or rpc/udp, optionally with 4, 6 or 46)`,
          name.length,
        );
      } else if (name === '') this.report('inetd-bad-field', 'error', this.pos(word), 'empty protocol', 1);
      else if (this.env.db.protocolNumber(name) !== undefined) {
        this.report(
          'inetd-bad-field',
          'error',
          this.pos(word),
          `protocol \`${name}\` is not supported by tsinetd (tcp or udp, optionally with 4, 6 or 46)`,
          name.length,
        );
      } else {
        this.report(
          'inetd-bad-field',
          'error',
          this.pos(word),
          `unknown protocol \`${name}\` (expected tcp, udp, tcp4, tcp6, tcp46, udp4, udp6 or udp46)`,
          name.length,
        );
      }
      return null;
    }
    const base = m[1] as 'tcp' | 'udp';
    if (socketType !== null && (socketType === 'stream') !== (base === 'tcp')) {
      this.report(
        'inetd-bad-field',
        'error',
        this.pos(word),
        `protocol \`${name}\` does not go with socket type ${socketType} (stream needs tcp, dgram needs udp)`,
        name.length,
      );
      return null;
    }
    if (!ok) return null;
    const suffix = m[2];
    let families: Set<Family>;
    if (suffix === '4') families = new Set(['4']);
    else if (suffix === '6') families = new Set(['6']);
    else if (suffix === '46' || suffix === '64') families = new Set(['46']);
    // FreeBSD and GNU inetutils ("We default to IPv4") bind plain tcp/udp to IPv4 only.
    else families = this.dialect === 'openbsd' ? new Set(['4', '6']) : new Set(['4']);
    return { base, families, written: name, unix: false, rpc };
  }

  /** The service field of an RPC entry (inetd-rpc.ts), its problem reported at its place. */
  protected rpcProgram(word: InetdWord, piece: WordPiece): RpcServiceField | null {
    const r = readRpcServiceField(piece.text, this.env.db);
    if ('problem' in r) this.report('inetd-bad-field', 'error', this.pos(word, piece.offset + r.offset), r.problem, r.length);
    return 'problem' in r ? null : r;
  }

  protected port(word: InetdWord, piece: WordPiece, base: 'tcp' | 'udp'): number | null {
    const name = piece.text;
    const at = this.pos(word, piece.offset);
    if (name === '') {
      this.report('inetd-bad-field', 'error', at, 'missing service name', 1);
      return null;
    }
    if (name.startsWith('tcpmux/')) {
      // FreeBSD's and GNU's are read by muxService(); OpenBSD's inetd has none ("unknown service").
      this.unsupported(
        word,
        `TCPMUX services (\`tcpmux/NAME\`) in the ${this.dialect} dialect (FreeBSD's and GNU inetutils' inetds have them: --dialect freebsd or gnu)`,
        name.length,
        piece.offset,
      );
      return null;
    }
    if (/^[0-9]+$/.test(name)) {
      const n = Number(name);
      if (n < 1 || n > 65535) {
        this.report('inetd-bad-field', 'error', at, `port ${name} is out of range (1-65535)`, name.length);
        return null;
      }
      return n;
    }
    const entry = this.env.db.serviceByName(name, base);
    if (entry === undefined) {
      const rpcHint = name.includes('/') ? ' (`NAME/VERSION` is RPC syntax: the protocol would be rpc/tcp or rpc/udp)' : '';
      this.report('inetd-bad-field', 'error', at, `unknown service \`${name}/${base}\`: not in /etc/services and not a port number${rpcHint}`, name.length);
      return null;
    }
    return entry.port;
  }

  protected waitField(word: InetdWord): WaitMeaning | null {
    const shape = parseField('WaitField', word.text);
    if (shape === null) {
      this.internalError(word);
      return null;
    }
    const out: WaitMeaning = {
      wait: shape.mode === 'wait',
      rateMax: null,
      instances: null,
      perSourcePerMinute: null,
      perSource: null,
    };
    let ok = true;
    if (shape.mode !== 'wait' && shape.mode !== 'nowait') {
      this.report('inetd-bad-field', 'error', this.pos(word), `expected \`wait\` or \`nowait\`, found \`${shape.mode}\``, Math.max(1, shape.mode.length));
      ok = false;
    }
    const suffix = shape.suffix;
    if (suffix?.kind === 'max') {
      const v = suffix.value;
      if (this.dialect === 'freebsd') {
        this.report(
          'inetd-bad-field',
          'error',
          this.pos(word, v.offset - 1),
          '`.MAX` is OpenBSD/Linux syntax; FreeBSD writes limits as /max-child/max-connections-per-ip-per-minute/max-child-per-ip',
          v.text.length + 1,
        );
        return null;
      }
      out.rateMax = this.dialect === 'gnu' ? this.gnuMax(word, v) : this.openbsdMax(word, v);
    } else if (suffix?.kind === 'limits') {
      const firstPart = present(suffix.parts[0], 'a limits suffix of at least one part');
      if (this.dialect !== 'freebsd') {
        this.report(
          'inetd-bad-field',
          'error',
          this.pos(word, firstPart.offset - 1),
          '`/...` limits are FreeBSD syntax; in an OpenBSD/Linux inetd.conf write `wait.MAX` or `nowait.MAX` (starts per minute)',
          word.text.length - firstPart.offset + 1,
        );
        return null;
      }
      const names = ['max-child', 'max-connections-per-ip-per-minute', 'max-child-per-ip'];
      const values: (number | null)[] = [];
      suffix.parts.forEach((part, i) => {
        if (i >= names.length) {
          if (i === names.length) {
            this.report(
              'inetd-field-note',
              'warning',
              this.pos(word, part.offset - 1),
              'FreeBSD inetd reads at most three `/` limits; the rest is ignored',
              word.text.length - part.offset + 1,
            );
          }
          return;
        }
        if (part.text === '') {
          values.push(null);
          return;
        }
        const max = i === 0 ? FREEBSD_MAX_CHILD : Number.MAX_SAFE_INTEGER;
        if (!/^[0-9]+$/.test(part.text) || Number(part.text) > max) {
          const range = i === 0 ? ` from 0 to ${FREEBSD_MAX_CHILD}` : '';
          this.report(
            'inetd-bad-field',
            'error',
            this.pos(word, part.offset),
            `bad ${names[i]} \`${part.text}\` (a number${range}; 0 or empty = no limit)`,
            Math.max(1, part.text.length),
          );
          ok = false;
          return;
        }
        values.push(Number(part.text) === 0 ? null : Number(part.text));
      });
      out.instances = values[0] ?? null;
      out.perSourcePerMinute = values[1] ?? null;
      out.perSource = values[2] ?? null;
    }
    return ok ? out : null;
  }

  /** OpenBSD: strtoul(.., 0) over the whole text, at least 1; otherwise a warning and the default. */
  private openbsdMax(word: InetdWord, v: WordPiece): number | null {
    const n = parseCUnsigned(v.text);
    if (!Number.isNaN(n) && n >= 1) return n;
    const d = INETD_RATE_RULES.openbsd.defaultMax;
    this.report(
      'inetd-field-note',
      'warning',
      this.pos(word, v.offset),
      `illegal max \`${v.text}\` (a number of at least 1): using ${d}, as inetd does`,
      Math.max(1, v.text.length),
    );
    return null;
  }

  /**
   * GNU inetutils: strtoul(.., 10) of the leading digits; trailing text is warned about but the
   * number is kept; 0 (or no digits) means no `.N` at all, so only its default of 1000 applies.
   */
  private gnuMax(word: InetdWord, v: WordPiece): number | null {
    const digits = /^[0-9]*/.exec(v.text)?.[0] ?? '';
    const n = digits === '' ? 0 : Number(digits);
    const d = INETD_RATE_RULES.gnu.defaultMax;
    if (digits.length < v.text.length) {
      this.report(
        'inetd-field-note',
        'warning',
        this.pos(word, v.offset + digits.length),
        `invalid number \`${v.text}\`: GNU inetd reads ${n === 0 ? `no limit from it (its default of ${d} applies)` : `it as ${n}`}`,
        Math.max(1, v.text.length - digits.length),
      );
    }
    return n === 0 || !Number.isSafeInteger(n) ? null : n;
  }

  protected userField(word: InetdWord): { user: string; group: string | null; problems: string[] } | null {
    const shape = parseField(this.dialect === 'freebsd' ? 'UserFreeBSD' : 'UserOpenBSD', word.text);
    if (shape === null) {
      this.internalError(word);
      return null;
    }
    const problems: string[] = [];
    if (shape.user.text === '') {
      this.report('inetd-bad-field', 'error', this.pos(word), 'missing user name', Math.max(1, word.text.length));
      return null;
    }
    if (shape.group !== null && shape.group.text === '') {
      this.report('inetd-bad-field', 'error', this.pos(word, shape.group.offset - 1), `missing group name after \`${shape.separator}\``, 1);
      return null;
    }
    if (shape.loginClass !== null) {
      const c = shape.loginClass;
      this.report(
        'inetd-unsupported',
        'warning',
        this.pos(word, c.offset - 1),
        `login classes are not supported by tsinetd: \`/${c.text}\` is ignored`,
        c.text.length + 1,
      );
    }
    if (this.env.db.user(shape.user.text) === undefined) {
      const p = `unknown user ${shape.user.text}`;
      problems.push(p);
      const hint = shape.user.text.includes('/') ? ' (`user/login-class` is FreeBSD syntax)' : '';
      this.problem('inetd-cannot-run', this.pos(word, shape.user.offset), `${p}: the service cannot start its server${hint}`, shape.user.text.length);
    }
    if (shape.group !== null && this.env.db.group(shape.group.text) === undefined) {
      const p = `unknown group ${shape.group.text}`;
      problems.push(p);
      this.problem('inetd-cannot-run', this.pos(word, shape.group.offset), `${p}: the service cannot start its server`, shape.group.text.length);
    }
    return { user: shape.user.text, group: shape.group?.text ?? null, problems };
  }

  /** FreeBSD's and GNU's `tcpmux/NAME` and `tcpmux/+NAME` (inetd-tcpmux.ts); null: not one; 'bad': skipped, reported. */
  protected muxService(word: InetdWord, piece: WordPiece, protoWritten: string | null, socketType: SocketType | null): MuxServiceField | 'bad' | null {
    const r = this.dialect !== 'openbsd' ? readMuxServiceField(piece.text, protoWritten, socketType, this.dialect) : null;
    if (r === null || !('problem' in r)) return r;
    this.report('inetd-bad-field', 'error', this.pos(word, piece.offset), r.problem, piece.text.length);
    return 'bad';
  }

  protected serverField(
    word: InetdWord,
    nameWord: InetdWord,
    namePiece: WordPiece,
    base: 'tcp' | 'udp',
  ): { internal: true; builtin: string; path: null; problems: string[] } | { internal: false; builtin: null; path: string; problems: string[] } | null {
    const text = word.text;
    if (text === 'internal') {
      const name = namePiece.text;
      const builtin = BUILTINS.find((b) => b === name || (this.dialect === 'freebsd' && this.isAliasOf(name, b, base)));
      if (builtin !== undefined) return { internal: true, builtin, path: null, problems: [] };
      // FreeBSD's and GNU's internal tcpmux (stream only: their builtin tables have no datagram one).
      if (this.dialect !== 'openbsd' && name === 'tcpmux' && base === 'tcp') return { internal: true, builtin: 'tcpmux', path: null, problems: [] };
      const at = this.pos(nameWord, namePiece.offset);
      if (name === 'tcpmux' && this.dialect === 'openbsd') {
        const why = `the internal tcpmux service is not in the ${this.dialect} dialect (that inetd has none; FreeBSD's and GNU inetutils' have: --dialect freebsd or gnu); entry skipped`;
        this.report('inetd-unsupported', 'error', at, why, name.length);
      } else if (name === 'auth' || name === 'ident') {
        this.unsupported(nameWord, 'the internal auth (ident) service and its options', name.length, namePiece.offset);
      } else {
        this.report(
          'inetd-bad-field',
          'error',
          at,
          `unknown internal service \`${name}\` (inetd's are echo, discard, chargen, daytime and time, named as in /etc/services)`,
          Math.max(1, name.length),
        );
      }
      return null;
    }
    const problems: string[] = [];
    if (!text.startsWith('/')) {
      const p = `server program ${text} is not an absolute path`;
      problems.push(p);
      this.problem('inetd-cannot-run', this.pos(word), `${p} (inetd runs it from /)`, text.length);
    } else {
      const p = this.env.programProblem(text);
      if (p !== null) {
        problems.push(p);
        this.problem('inetd-cannot-run', this.pos(word), p, text.length);
      }
    }
    return { internal: false, builtin: null, path: text, problems };
  }

  /** FreeBSD matches internal services by any /etc/services name of the builtin. */
  protected isAliasOf(name: string, builtin: string, base: 'tcp' | 'udp'): boolean {
    const e = this.env.db.serviceByName(builtin, base);
    return e !== undefined && (e.name === name || e.aliases.includes(name));
  }

  /** The address families the entry gets on host `h` (an address literal keeps only its own). */
  protected familiesFor(h: HostPiece, hostWord: InetdWord | null, families: Set<Family>, protoName: string, protoWord: InetdWord): Set<Family> | null {
    const kind = isIP(h.text);
    if (kind === 0) return new Set(families);
    const allowed: Family[] = kind === 4 ? ['4'] : ['6', '46'];
    const kept = new Set([...families].filter((f) => allowed.includes(f)));
    if (kept.size > 0) return kept;
    const at = hostWord !== null ? this.pos(hostWord, h.offset) : this.pos(protoWord);
    this.report(
      'inetd-bad-field',
      'error',
      at,
      `address ${h.text} is IPv${kind}, but protocol \`${protoName}\` needs an IPv${kind === 4 ? '6' : '4'} address`,
      hostWord !== null ? Math.max(1, h.length) : protoName.length,
    );
    return null;
  }
}
