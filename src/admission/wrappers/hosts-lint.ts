// Checks of a hosts_access(5) table for `tsinetd --check`, beyond Debian's tcpdchk: besides
// libwrap's own complaints (missing separator, missing newline, bad options), patterns that
// libwrap accepts but that can never match, and IPv6 addresses written without brackets.
// Each finding points at the token and says what libwrap will do. Pure.

import type { DiagnosticCode } from '../../diagnostic-codes.js';
import { diag, compareDiagnostics, type Diagnostic, type Severity } from '../../diagnostics.js';
import type { HostsRule, HostsTable, HostsToken } from './hosts-syntax.js';
import { optionTemplate, processRuleOptions, unknownPercentLetters, type OptionChecks } from './hosts-options.js';
import { cAtoi, dotQuad, parseIPv6 } from './hosts-addr.js';

export interface LintOptions extends OptionChecks {
  /** Which file this is: the consequence of a fault differs (ERR in hosts.deny refuses). */
  role?: 'allow' | 'deny';
}

function at(
  code: DiagnosticCode,
  rule: { file: string },
  t: { line: number; column: number },
  severity: Severity,
  message: string,
  length?: number,
): Diagnostic {
  return diag(code, severity, { file: rule.file, line: t.line, column: t.column }, message, length);
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function v4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/** Why a `net/mask` pattern can never match, or null when it can. */
function maskedProblem(text: string): string | null {
  const slash = text.indexOf('/');
  const netTok = text.slice(0, slash);
  const maskTok = text.slice(slash + 1);
  if (netTok.startsWith('[')) {
    if (!netTok.endsWith(']') || parseIPv6(netTok.slice(1, -1)) === null) {
      return `"${netTok}" is not an IPv6 address libwrap can read: ${text} never matches`;
    }
    const bits = cAtoi(maskTok);
    if (bits < 0 || bits > 128) return `prefix length ${maskTok} is out of range 0-128: ${text} never matches`;
    if (!/^[0-9]+$/.test(maskTok)) {
      return `libwrap reads the prefix length "${maskTok}" as ${bits} (atoi)${bits === 0 ? `: ${text} matches every IPv6 client` : ''}`;
    }
    return null;
  }
  const net = dotQuad(netTok);
  if (net === null) {
    return `libwrap needs a full dotted quad before the "/" ("${netTok}" is not one): ${text} never matches`;
  }
  let mask = dotQuad(maskTok);
  if (mask === null) {
    const bits = cAtoi(maskTok);
    if (maskTok === '255.255.255.255') {
      return `libwrap cannot read the mask 255.255.255.255 (it equals inet_addr's error value): ${text} never matches; write ${netTok} alone`;
    }
    if (bits < 1 || bits > 32) {
      const hint = bits === 0 ? '; write ALL to match every client' : '';
      return `libwrap accepts prefix lengths 1 to 32 only: ${text} never matches${hint}`;
    }
    mask = (0xffffffff << (32 - bits)) >>> 0;
  }
  if ((net & mask) >>> 0 !== net) {
    return `host bits set: libwrap compares (address & ${v4Text(mask)}) with ${v4Text(net)}, so ${text} never matches; write ${v4Text((net & mask) >>> 0)}/${maskTok}`;
  }
  return null;
}

/** Findings about one client or daemon-host pattern. */
function patternProblems(rule: HostsRule, t: HostsToken, text: string, column: number, out: Diagnostic[]): void {
  const pos = { line: t.line, column };
  if (text.startsWith('@') || text.startsWith('/')) return;
  const slash = slashOutsideBrackets(text);
  if (slash >= 0) {
    const p = maskedProblem(text);
    if (p !== null) out.push(at('hosts-never-matches', rule, pos, p.includes('never matches') ? 'warning' : 'note', p, byteLength(text)));
    return;
  }
  if (text.length >= 2 && text.startsWith('[') && text.endsWith(']') && !/[*?]/.test(text) && parseIPv6(text.slice(1, -1)) === null) {
    out.push(at('hosts-never-matches', rule, pos, 'warning', `"${text}" is not an IPv6 address libwrap can read: it never matches`, byteLength(text)));
  }
}

function slashOutsideBrackets(s: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '[') depth++;
    else if (s[i] === ']') depth--;
    else if (depth === 0 && s[i] === '/') return i;
  }
  return -1;
}

/** Text of the clients' last token and the options, joined back at the colons, when they were adjacent. */
function unbracketedIPv6(rule: HostsRule): { text: string; line: number; column: number } | null {
  if (!rule.hasOptions) return null;
  const opts = rule.options.map((o) => o.text).join(':');
  const last = rule.clients[rule.clients.length - 1];
  const first = rule.options[0];
  const candidates: { text: string; line: number; column: number }[] = [];
  if (last !== undefined && first !== undefined && last.line === first.line && last.column + byteLength(last.text) + 1 === first.column) {
    candidates.push({ text: `${last.text}:${opts}`, line: last.line, column: last.column });
  }
  if (first !== undefined) candidates.push({ text: `:${opts}`, line: first.line, column: first.column - 1 });
  for (const c of candidates) {
    const m = /^[0-9A-Fa-f:.]+(\/[0-9]+)?/.exec(c.text.trimStart());
    if (m === null) continue;
    const addr = m[0].replace(/\/[0-9]+$/, '');
    if ((addr.match(/:/g) ?? []).length >= 2 && parseIPv6(addr) !== null) return { ...c, text: m[0] };
  }
  return null;
}

/** The findings for one table, sorted by position. */
export function lintHostsTable(table: HostsTable, opts: LintOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const d of table.diagnostics) {
    if (d.message === 'missing ":" separator') {
      out.push({ ...d, message: 'missing ":" separator: libwrap skips this line (and warns on every connection that reaches it)' });
    }
  }
  for (const rule of table.rules) {
    for (const [name, list] of [
      ['daemon', rule.daemons],
      ['client', rule.clients],
    ] as const) {
      const [first] = list;
      if (first !== undefined && first.text.toUpperCase() === 'EXCEPT') {
        out.push(at('hosts-never-matches', rule, first, 'warning', `the ${name} list starts with EXCEPT: libwrap never matches this rule`, 6));
      }
      for (const t of list) {
        if (name === 'client') {
          const userAt = t.text.indexOf('@', 1);
          const host = userAt > 0 && !t.text.slice(0, userAt).includes('[') ? t.text.slice(userAt + 1) : t.text;
          patternProblems(rule, t, host, t.column + byteLength(t.text) - byteLength(host), out);
        } else {
          const hostAt = t.text.indexOf('@', 1);
          if (hostAt > 0) {
            const host = t.text.slice(hostAt + 1);
            patternProblems(rule, t, host, t.column + hostAt + 1, out);
          }
        }
      }
    }
    const v6 = unbracketedIPv6(rule);
    if (v6 !== null) {
      out.push(
        at(
          'hosts-never-matches',
          rule,
          v6,
          'error',
          `IPv6 address without brackets: libwrap cuts the line at the address's first ":", so this rule never matches that address (what follows is read as options, and any client the rule does match is refused for bad options); write [${v6.text.replace(/\/.*/, '')}]${v6.text.includes('/') ? v6.text.replace(/^[^/]*/, '') : ''}`,
          byteLength(v6.text),
        ),
      );
      continue;
    }
    if (rule.hasOptions) {
      const ro = processRuleOptions(rule, opts);
      for (const o of ro.options) {
        const letters = unknownPercentLetters(optionTemplate(o) ?? '');
        if (letters.length > 0) {
          out.push(
            at(
              'hosts-note',
              rule,
              o,
              'warning',
              `${letters.map((c) => `%${c}`).join(', ')}: not a % expansion libwrap knows; it expands to nothing (write %% for a percent sign)`,
              o.kind.length,
            ),
          );
        }
        if (o.kind === 'user' || o.kind === 'group') {
          out.push(
            at(
              'hosts-note',
              rule,
              o,
              'note',
              `option "${o.kind}" does nothing under Debian's libwrap (the server keeps the service's user); an unknown name still refuses the client`,
              o.kind.length,
            ),
          );
        }
      }
      if (ro.error !== null) {
        const hint = /^bad option name: "\//.test(ro.error.message)
          ? ' (the third field holds options, not a shell command: write "spawn CMD" or "twist CMD")'
          : '';
        out.push({ ...ro.error, message: `${ro.error.message}: libwrap refuses every client this rule matches${hint}` });
      }
    }
  }
  const f = table.fault;
  if (f !== null) {
    const pos = { file: table.path, line: f.line, column: f.column };
    const then =
      opts.role === 'deny'
        ? 'reaching it makes hosts.deny answer ERR, which refuses every client no earlier rule matched'
        : opts.role === 'allow'
          ? 'reaching it makes hosts.allow answer ERR, and libwrap goes on to hosts.deny'
          : 'reaching it makes the table answer ERR (in hosts.deny that refuses every client no earlier rule matched)';
    const what =
      f.reason === 'missing-newline'
        ? 'no newline at the end of the file: libwrap ignores this last line'
        : f.reason === 'line-too-long'
          ? 'logical line of 2048 bytes or more: libwrap ignores it and every rule after it'
          : f.message;
    out.push(diag('hosts-syntax', 'error', pos, `${what}; ${then}`));
  }
  return out.sort(compareDiagnostics);
}
