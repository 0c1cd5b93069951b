// Diagnostics: located config problems, and how they are printed.
//
// Every problem found while loading a configuration becomes a Diagnostic with a
// file, a 1-based line and a 1-based column. Loading never stops at the first
// one: the bad service (or only the bad attribute, where xinetd merely warns) is
// dropped and the rest loads.

import type { DiagnosticCode, Severity } from './diagnostic-codes.js';

export type { Severity };

export interface SourcePosition {
  file: string;
  line: number; // 1-based
  column: number; // 1-based
}

export interface Diagnostic extends SourcePosition {
  severity: Severity;
  /** What kind of problem this is (diagnostic-codes.ts): stable, unlike the message. */
  code: DiagnosticCode;
  message: string;
  /**
   * The ids of the services this diagnostic is about, when it is about services (a check of
   * a whole service, a port clash): a reload keeps a service's running definition by these,
   * never by what the message says.
   */
  services?: readonly string[];
  /** Length of the offending text on its line, for the caret underline (>= 1). */
  length?: number;
}

export function diag(code: DiagnosticCode, severity: Severity, at: SourcePosition, message: string, length?: number): Diagnostic {
  const d: Diagnostic = { severity, code, file: at.file, line: at.line, column: at.column, message };
  if (length !== undefined && length > 0) d.length = length;
  return d;
}

/** `d`, marked as being about these services (see Diagnostic.services). */
export function about(d: Diagnostic, ...ids: string[]): Diagnostic {
  return { ...d, services: [...(d.services ?? []), ...ids] };
}

export function hasErrors(list: readonly Diagnostic[]): boolean {
  return list.some((d) => d.severity === 'error');
}

export interface FormatOptions {
  /** The text of each file, to print the offending line and a caret under it. */
  sources?: ReadonlyMap<string, string>;
  /** ANSI colours (a terminal). */
  color?: boolean;
  /** Add the code after the message (`--check`, `--convert`): `... message [code]`. */
  codes?: boolean;
}

const COLORS: Record<Severity, string> = { error: '\x1b[1;31m', warning: '\x1b[1;35m', note: '\x1b[1;36m' };
const BOLD = '\x1b[1m';
const GREEN = '\x1b[1;32m';
const RESET = '\x1b[0m';

/** `file:line:col: severity: message` (and ` [code]` when asked), then (when the source is known) the line and a caret. */
export function formatDiagnostic(d: Diagnostic, opts: FormatOptions = {}): string {
  const c = opts.color === true;
  const where = `${d.file}:${d.line}:${d.column}:`;
  const sev = c ? `${COLORS[d.severity]}${d.severity}:${RESET}` : `${d.severity}:`;
  // A word read from a file with DOS line ends keeps its '\r', as in xinetd: shown escaped.
  let out = `${c ? BOLD + where + RESET : where} ${sev} ${d.message.replace(/\r/g, '\\r')}`;
  if (opts.codes === true) out += ` [${d.code}]`;
  const text = opts.sources?.get(d.file);
  if (text !== undefined) {
    const line = text.split('\n')[d.line - 1];
    if (line !== undefined) {
      const shown = line.replace(/\r$/, '');
      // Keep tabs so the caret lines up with what the terminal shows.
      const pad = shown.slice(0, Math.max(0, d.column - 1)).replace(/[^\t]/g, ' ');
      const width = Math.max(1, Math.min(d.length ?? 1, Math.max(1, shown.length - d.column + 1)));
      const caret = '^' + '~'.repeat(width - 1);
      out += `\n  ${shown}\n  ${pad}${c ? GREEN + caret + RESET : caret}`;
    }
  }
  return out;
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.line - b.line || a.column - b.column;
}
