// `tsinetd --convert FILE`: a classic inetd.conf (any dialect) → one xinetd.d file per service.
//
// The inetd loader (src/config/inetd/inetd.ts) reads the file exactly as `--inetd FILE` would, so a converted
// service is the Service tsinetd would have run from the inetd line; src/convert/xinetd-writer.ts writes
// it as an xinetd block. Only two things are changed on the way, neither of which changes what
// runs: NAMEINARGS is dropped when argv[0] is the server's base name anyway (xinetd's default
// argv[0]), and `type = UNLISTED` is added for services /etc/services does not list (numeric
// service fields).
//
// What xinetd cannot express is reported at the inetd line (file:line:col) and kept in the
// block as a comment:
//   - inetd's per-minute start limit (`nowait.N`; 256 when not written): xinetd has no such
//     attribute. The block gets `cps = 0 0` (inetd has no per-second limit either) and no rate,
//     so the converted service has no start limit at all. An extension attribute would keep
//     tsinetd's behaviour but make real xinetd warn "bad service attribute" on every service,
//     and tsinetd's xinetd language has no such attribute: a written `.N` is a warning, the
//     implicit default one note per file.
//   - FreeBSD's max-connections-per-ip-per-minute: the same (a warning).
//   - words with blanks (FreeBSD quoted arguments): an error; the block lacks them and is
//     written with `disable = yes`, so that it does not run another command.
// File names are made from the service id and are safe for xinetd's includedir, which skips
// names that contain '.' or end in '~' (`ftp`, `ftp-tcp6`, `127-0-0-1-ntalk-udp`).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareDiagnostics, diag, type Diagnostic, type SourcePosition } from '../diagnostics.js';
import { defaultInetdBuildEnv, type InetdBuildEnv } from '../config/inetd/inetd-build.js';
import { dialectName, type ResolvedInetdDialect } from '../config/inetd/inetd-dialect.js';
import { parseInetdText, type InetdEntryNode, type InetdWord } from '../config/inetd/inetd-syntax.js';
import { loadInetdFile, loadInetdText, type InetdDialect } from '../config/inetd/inetd.js';
import { inetdRateServed } from '../admission/limits.js';
import type { Service } from '../table.js';
import { needsNameInArgs, writeService, type LostField } from './xinetd-writer.js';

export interface ConvertedFile {
  /** File name in the output directory (safe for xinetd's includedir). */
  name: string;
  /** The xinetd.d file: comments and one service block. */
  text: string;
  /** The Service the inetd line described (before the NAMEINARGS tidy-up). */
  service: Service;
}

export interface ConvertResult {
  files: ConvertedFile[];
  diagnostics: Diagnostic[];
  /** The dialect the file was read as. */
  dialect: ResolvedInetdDialect;
  /** With an output directory: the files that now hold their conversion (written or already equal). */
  written: string[];
}

export interface ConvertOptions {
  dialect?: InetdDialect;
  /** System lookups (tests pass fixture databases). */
  env?: InetdBuildEnv;
}

export { dialectName } from '../config/inetd/inetd-dialect.js';

/**
 * A file name for a service id: letters, digits, '_' and '-' only (so never a '.' or a
 * trailing '~'), unique among `taken` (which it extends).
 */
export function xinetdFileName(id: string, taken: Set<string>): string {
  const base =
    id
      .replace(/[^A-Za-z0-9_-]+/g, '-')
      .replace(/-{2,}/g, '-')
      .replace(/^-+|-+$/g, '') || 'service';
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  taken.add(name);
  return name;
}

/** The fields of an entry from the service name on (without an OpenBSD `host:` word of its own). */
function fieldsOf(node: InetdEntryNode): InetdWord[] {
  const first = node.words[0];
  if (first !== undefined && first.text.endsWith(':') && node.words.length > 1) return node.words.slice(1);
  return node.words;
}

const WAIT_FIELD = 3;
const SERVER_FIELD = 5;

/** Where to report something about a service: a word of its inetd entry, or the entry's start. */
class Locator {
  private readonly entries = new Map<number, InetdEntryNode>();
  private readonly lines: string[];

  constructor(
    private readonly file: string,
    text: string,
    dialect: ResolvedInetdDialect,
  ) {
    this.lines = text.split('\n');
    for (const node of parseInetdText(file, text, dialect === 'freebsd').nodes) {
      if (node.kind === 'entry') this.entries.set(node.line, node);
    }
  }

  entry(s: Service): InetdEntryNode | undefined {
    return this.entries.get(s.source.line);
  }

  private pos(w: InetdWord | undefined, s: Service, offset = 0): SourcePosition {
    if (w === undefined) return { file: this.file, line: s.source.line, column: 1 };
    return { file: this.file, line: w.line, column: w.column + offset + (w.quoted ? 1 : 0) };
  }

  /** The wait field (`nowait.N`, `nowait/a/b/c`). */
  waitWord(s: Service): InetdWord | undefined {
    const node = this.entry(s);
    return node === undefined ? undefined : fieldsOf(node)[WAIT_FIELD];
  }

  at(s: Service, w?: InetdWord, offset = 0): SourcePosition {
    return this.pos(w ?? this.entry(s)?.words[0], s, offset);
  }

  /** The first word from the server field on whose text is `text`. */
  argWord(s: Service, text: string): InetdWord | undefined {
    const node = this.entry(s);
    if (node === undefined) return undefined;
    return fieldsOf(node)
      .slice(SERVER_FIELD)
      .find((w) => w.text === text);
  }

  /** The physical lines of the entry, as written. */
  sourceLines(s: Service): string[] {
    const node = this.entry(s);
    const last = node?.continuations.at(-1)?.line ?? s.source.line;
    return this.lines.slice(s.source.line - 1, last).map((l) => l.replace(/\s+$/, ''));
  }
}

/** The Service as the block should state it: NAMEINARGS only where argv[0] needs it. */
function tidy(s: Service): Service {
  if (!s.flags.includes('NAMEINARGS') || needsNameInArgs(s)) return s;
  return { ...s, flags: s.flags.filter((f) => f !== 'NAMEINARGS') };
}

function lostDiagnostic(s: Service, l: LostField, where: Locator): Diagnostic {
  const subject = s.id === s.name ? `service '${s.name}'` : `service '${s.name}' (id ${s.id})`;
  if (l.field === 'inetd_rate' || l.field === 'per_source_per_minute' || l.field === 'instances_at_limit') {
    const w = where.waitWord(s);
    const span = w === undefined ? { offset: 0, length: 1 } : limitSpan(w.text, l.field);
    return diag('convert-limitation', l.severity, where.at(s, w, span.offset), `${subject}: ${l.message}`, span.length);
  }
  const w = l.word === undefined ? undefined : where.argWord(s, l.word);
  const consequence = l.severity === 'error' ? '; the converted service is written with `disable = yes`' : '';
  return diag('convert-limitation', l.severity, where.at(s, w), `${subject}: ${l.message}${consequence}`, w === undefined ? 1 : Math.max(1, w.text.length));
}

/**
 * Where a limit is written in the wait field: `.N` for the rate, the first and second `/` parts
 * of FreeBSD's `nowait/max-child/per-minute/per-ip` for max-child and the per-minute limit (the
 * whole field otherwise).
 */
function limitSpan(wait: string, field: 'inetd_rate' | 'per_source_per_minute' | 'instances_at_limit'): { offset: number; length: number } {
  if (field === 'inetd_rate') {
    const dot = wait.indexOf('.');
    return dot < 0 ? { offset: 0, length: wait.length } : { offset: dot, length: wait.length - dot };
  }
  const parts = wait.split('/');
  const k = field === 'instances_at_limit' ? 1 : 2;
  const part = parts[k];
  if (part === undefined) return { offset: 0, length: wait.length };
  const offset = parts.slice(0, k).reduce((n, p) => n + p.length + 1, 0);
  return { offset, length: Math.max(1, part.length) };
}

/** Converts inetd.conf text. Pure apart from the system lookups of `opts.env`. */
export function convertInetdText(path: string, text: string, opts: ConvertOptions = {}): ConvertResult {
  const loaded = loadInetdText(path, text, opts.dialect ?? 'auto', opts.env ?? defaultInetdBuildEnv);
  return fromLoaded(path, text, loaded.services, loaded.diagnostics, loaded.dialect, opts);
}

function fromLoaded(
  path: string,
  text: string,
  services: readonly Service[],
  loadDiagnostics: readonly Diagnostic[],
  dialect: ResolvedInetdDialect,
  opts: ConvertOptions,
): ConvertResult {
  const where = new Locator(path, text, dialect);
  const db = (opts.env ?? defaultInetdBuildEnv).db;
  const diagnostics = [...loadDiagnostics];
  const taken = new Set<string>();
  const files: ConvertedFile[] = [];
  let defaultRate: Service | null = null;

  for (const s of services) {
    const header = [
      `Converted by tsinetd from ${path}, line ${s.source.line} (${dialectName(dialect)} inetd.conf):`,
      ...where.sourceLines(s).map((l) => `    ${l}`),
    ];
    const written = writeService(tidy(s), { db, header });
    for (const l of written.lost) {
      if (l.field === 'inetd_rate' && s.inetd_rate?.written !== true) {
        defaultRate ??= s;
        continue;
      }
      diagnostics.push(lostDiagnostic(s, l, where));
    }
    files.push({ name: xinetdFileName(s.id, taken), text: written.text, service: s });
  }
  if (defaultRate !== null && defaultRate.inetd_rate !== null) {
    const r = defaultRate.inetd_rate;
    diagnostics.push(
      diag(
        'convert-limitation',
        'note',
        where.at(defaultRate),
        `inetd stops a service for ${r.shutdown_seconds / 60} minutes when more than ${inetdRateServed(r)} start in ${r.per_seconds} s; xinetd has no such limit, ` +
          `so the services converted from this file have none (and, as in inetd, no per-second limit: cps = 0 0); each block says so in a comment`,
      ),
    );
  }
  diagnostics.sort(compareDiagnostics);
  return { files, diagnostics, dialect, written: [] };
}

/** What one output file would do to an existing one. */
function outcome(path: string, text: string): 'new' | 'same' | 'different' {
  if (!existsSync(path)) return 'new';
  try {
    return readFileSync(path, 'utf8') === text ? 'same' : 'different';
  } catch {
    return 'different';
  }
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES') return 'permission denied';
  if (code === 'ENOTDIR') return 'a part of the path is not a directory';
  if (code === 'EISDIR') return 'is a directory';
  return code ?? (err instanceof Error ? err.message : String(err));
}

/**
 * Writes the files into `dir` (created if missing). All or nothing: when an existing file of
 * the same name has other contents, nothing is written and each such file is an error at the
 * inetd line it came from. Files that already hold the same text are left alone.
 */
export function writeConvertedFiles(source: string, dir: string, files: readonly ConvertedFile[]): { diagnostics: Diagnostic[]; written: string[] } {
  const out: Diagnostic[] = [];
  const written: string[] = [];
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    return {
      diagnostics: [diag('convert-write', 'error', { file: source, line: 1, column: 1 }, `cannot create the output directory ${dir}: ${reason(err)}`)],
      written,
    };
  }
  const conflicts = files.filter((f) => outcome(join(dir, f.name), f.text) === 'different');
  for (const f of conflicts) {
    out.push(
      diag(
        'convert-write',
        'error',
        { file: source, line: f.service.source.line, column: 1 },
        `${join(dir, f.name)} already exists with other contents: nothing was written (remove it, or convert into another directory)`,
      ),
    );
  }
  if (conflicts.length > 0) return { diagnostics: out, written };
  for (const f of files) {
    const target = join(dir, f.name);
    try {
      if (outcome(target, f.text) !== 'same') writeFileSync(target, f.text, { mode: 0o644 });
      written.push(target);
    } catch (err) {
      out.push(diag('convert-write', 'error', { file: source, line: f.service.source.line, column: 1 }, `cannot write ${target}: ${reason(err)}`));
    }
  }
  return { diagnostics: out, written };
}

/**
 * Converts one inetd.conf file; with `outDir`, writes one file per service there. Never throws:
 * an unreadable file or an unwritable directory is a diagnostic.
 */
export function convertInetdFile(path: string, outDir: string | null, opts: ConvertOptions = {}): ConvertResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // The loader words the read error.
    const r = loadInetdFile(path, undefined, opts.dialect ?? 'auto');
    return { files: [], diagnostics: r.diagnostics, dialect: r.dialect, written: [] };
  }
  let result: ConvertResult;
  try {
    result = convertInetdText(path, text, opts);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const d = diag('internal-error', 'error', { file: path, line: 1, column: 1 }, `internal error while converting this file: ${message}`);
    return { files: [], diagnostics: [d], dialect: opts.dialect === undefined || opts.dialect === 'auto' ? 'openbsd' : opts.dialect, written: [] };
  }
  if (outDir !== null) {
    const w = writeConvertedFiles(path, outDir, result.files);
    result.diagnostics.push(...w.diagnostics);
    result.diagnostics.sort(compareDiagnostics);
    result.written = w.written;
  }
  return result;
}

/** All the blocks as one xinetd.d text (what `--convert` prints without `-o`). */
export function renderConversion(path: string, result: ConvertResult): string {
  const n = result.files.length;
  const parts = [
    `# ${n} service${n === 1 ? '' : 's'} converted by tsinetd from ${path} (${dialectName(result.dialect)} inetd.conf).\n` +
      `# Each block below is one xinetd.d file; \`tsinetd --convert ${path} -o DIR\` writes them as DIR/NAME.\n`,
  ];
  for (const f of result.files) parts.push(`# ---- file: ${f.name} ----\n${f.text}`);
  return parts.join('\n');
}
