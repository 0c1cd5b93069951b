// Diagnostics: located config problems, and how they are printed.
//
// Every problem found while loading a configuration becomes a Diagnostic with a
// file, a 1-based line and a 1-based column. Loading never stops at the first
// one: the bad service (or only the bad attribute, where xinetd merely warns) is
// dropped and the rest loads.

export type Severity = 'error' | 'warning' | 'note';

export interface SourcePosition {
  file: string;
  line: number; // 1-based
  column: number; // 1-based
}

export interface Diagnostic extends SourcePosition {
  severity: Severity;
  message: string;
  /** Length of the offending text on its line, for the caret underline (>= 1). */
  length?: number;
}

export function diag(
  severity: Severity,
  at: SourcePosition,
  message: string,
  length?: number,
): Diagnostic {
  const d: Diagnostic = { severity, file: at.file, line: at.line, column: at.column, message };
  if (length !== undefined && length > 0) d.length = length;
  return d;
}

export function hasErrors(list: readonly Diagnostic[]): boolean {
  return list.some((d) => d.severity === 'error');
}

export interface FormatOptions {
  /** The text of each file, to print the offending line and a caret under it. */
  sources?: ReadonlyMap<string, string>;
  /** ANSI colours (a terminal). */
  color?: boolean;
}

const COLORS: Record<Severity, string> = { error: '\x1b[1;31m', warning: '\x1b[1;35m', note: '\x1b[1;36m' };
const BOLD = '\x1b[1m';
const GREEN = '\x1b[1;32m';
const RESET = '\x1b[0m';

/** `file:line:col: severity: message`, then (when the source is known) the line and a caret. */
export function formatDiagnostic(d: Diagnostic, opts: FormatOptions = {}): string {
  const c = opts.color === true;
  const where = `${d.file}:${d.line}:${d.column}:`;
  const sev = c ? `${COLORS[d.severity]}${d.severity}:${RESET}` : `${d.severity}:`;
  // A word read from a file with DOS line ends keeps its '\r', as in xinetd: shown escaped.
  let out = `${c ? BOLD + where + RESET : where} ${sev} ${d.message.replace(/\r/g, '\\r')}`;
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
