// Classic inetd.conf files (OpenBSD/Debian openbsd-inetd, Linux netkit, GNU inetutils, busybox,
// and FreeBSD) -> the same typed Services as xinetd blocks.
//
// Pipeline: read the file -> grammar (inetd-syntax.ts: located entries, comments, `#@` lines)
// -> dialect (inetd-dialect.ts: given, or decided from evidence in the file) -> Services
// (inetd-build.ts). Never throws: an unreadable file is one diagnostic, a line that cannot be
// understood is a located diagnostic and only that entry is skipped.

import { readFileSync } from 'node:fs';
import { compareDiagnostics, diag, type Diagnostic } from '../../diagnostics.js';
import { buildInetdServices, defaultInetdBuildEnv, type InetdBuildEnv } from './inetd-build.js';
import { detectDialect, type ResolvedInetdDialect } from './inetd-dialect.js';
import { parseInetdText } from './inetd-syntax.js';
import type { Service } from '../../table.js';
import { fsReason } from '../../sys/errno.js';

/**
 * 'openbsd' covers the inetds with `.max` and `host:` (OpenBSD, Debian's openbsd-inetd, netkit,
 * busybox); 'gnu' is the same syntax read as GNU inetutils reads it (see inetd-dialect.ts).
 */
export type InetdDialect = 'auto' | 'openbsd' | 'freebsd' | 'gnu';

/** The dialect a file is reported under when it could not be read at all. */
function fallbackDialect(d: InetdDialect): ResolvedInetdDialect {
  return d === 'auto' ? 'openbsd' : d;
}

export interface InetdLoadResult {
  services: Service[];
  diagnostics: Diagnostic[];
  /** The dialect the file was read as (after 'auto' detection). */
  dialect: ResolvedInetdDialect;
}

/** Parses inetd.conf text; `env` supplies the system lookups (tests pass their own). */
export function loadInetdText(path: string, text: string, dialect: InetdDialect = 'auto', env: InetdBuildEnv = defaultInetdBuildEnv): InetdLoadResult {
  let syntax = parseInetdText(path, text, dialect === 'freebsd');
  const decision = dialect === 'auto' ? detectDialect(path, syntax.nodes) : { dialect, diagnostics: [] };
  if (dialect === 'auto' && decision.dialect === 'freebsd') syntax = parseInetdText(path, text, true);
  const built = buildInetdServices(path, syntax.nodes, decision.dialect, env);
  const diagnostics = [...syntax.diagnostics, ...decision.diagnostics, ...built.diagnostics].sort(compareDiagnostics);
  return { services: built.services, diagnostics, dialect: decision.dialect };
}

/** Parses one inetd.conf file. `text` defaults to the file's contents. Never throws. */
export function loadInetdFile(path: string, text?: string, dialect: InetdDialect = 'auto'): InetdLoadResult {
  let source = text;
  if (source === undefined) {
    try {
      source = readFileSync(path, 'utf8');
    } catch (err) {
      const message = `cannot read inetd configuration file: ${fsReason(err)}`;
      return {
        services: [],
        diagnostics: [diag('unreadable-file', 'error', { file: path, line: 1, column: 1 }, message)],
        dialect: fallbackDialect(dialect),
      };
    }
  }
  try {
    return loadInetdText(path, source, dialect);
  } catch (err) {
    // A bug of ours must not take the daemon down with a stack trace: report it on the file.
    const message = err instanceof Error ? err.message : String(err);
    return {
      services: [],
      diagnostics: [diag('internal-error', 'error', { file: path, line: 1, column: 1 }, `internal error while reading this file: ${message}`)],
      dialect: fallbackDialect(dialect),
    };
  }
}
