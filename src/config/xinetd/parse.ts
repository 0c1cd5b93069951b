// Typed wrapper over the generated xinetd parser (build/grammar/xinetd.js).
//
// parseConfigText() never throws: the grammar accepts every input and records bad lines and
// the regions xinetd would skip; this module turns them into located diagnostics that say what
// was expected and what xinetd does with the text. parseValue() applies one value grammar to
// one value and turns a Peggy SyntaxError into a Diagnostic at the exact column.

import { parse as peggyParse, SyntaxError as PeggySyntaxError, type PeggyExpectation } from '../../../grammar/xinetd.js';
import { diag, type Diagnostic } from '../../diagnostics.js';
import type {
  AttributeNode,
  BadLineNode,
  ConfigNode,
  DefaultsNode,
  EntryEnd,
  Loc,
  ServiceNode,
  SkipRegion,
  TopNode,
  ValueRule,
  ValueRules,
  Word,
} from './syntax.js';
import { present } from '../../util/invariant.js';
import { BoundedTable } from '../../util/bounded-table.js';

export interface ParsedFile {
  file: string;
  config: ConfigNode;
  /** Syntax problems, in file order. */
  diagnostics: Diagnostic[];
}

const ENTRY_KEYWORDS = new Set(['service', 'defaults', 'include', 'includedir']);

/** Parses the text of one configuration file. Never throws. */
export function parseConfigText(text: string, file: string): ParsedFile {
  let config: ConfigNode;
  try {
    config = peggyParse(text, { grammarSource: file, startRule: 'Config' }) as ConfigNode;
  } catch (err) {
    // The Config rule accepts every input; this is a safety net, not an expected path.
    const d =
      err instanceof PeggySyntaxError
        ? syntaxErrorDiagnostic(err, file)
        : diag('syntax', 'error', { file, line: 1, column: 1 }, `cannot parse: ${String(err)}`);
    return { file, config: emptyConfig(file), diagnostics: [d] };
  }
  const diagnostics: Diagnostic[] = [];
  const crlf = text.indexOf('\r\n');
  if (crlf >= 0) {
    diagnostics.push(crlfWarning(text, crlf, file));
    diagnostics.push(...keepCarriageReturns(config, text));
  }
  for (const item of config.items) diagnostics.push(...itemDiagnostics(item));
  return { file, config, diagnostics };
}

function emptyConfig(file: string): ConfigNode {
  return {
    kind: 'config',
    loc: { file, line: 1, column: 1, offset: 0, endLine: 1, endColumn: 1, endOffset: 0 },
    items: [],
  };
}

function crlfWarning(text: string, at: number, file: string): Diagnostic {
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - (before.lastIndexOf('\n') + 1) + 1;
  return diag(
    'dos-line-ends',
    'warning',
    { file, line, column },
    "this file has DOS (CRLF) line ends: xinetd reads each '\\r' as part of the last word of its line ('stream\\r', 'no\\r', 'root\\r') " +
      'and rejects most such values, so it starts almost nothing from such a file; tsinetd reads the words the same way (convert the file with dos2unix)',
  );
}

// ---- DOS line ends, read as xinetd reads them ---------------------------------------------------
//
// The grammar counts '\r' as a blank, as xinetd's isspace() does where it looks at the shape of a
// line ('{' and '}' lines). But xinetd splits a line into words at blanks and tabs only, so the '\r'
// of a CRLF line end belongs to the last word of the line ('stream\r'), or is a word of its own
// after a blank. keepCarriageReturns() puts it back there: into the service name, the last value
// of an attribute (or a value '\r' of its own), an include path; the value checks then reject what
// xinetd rejects. `defaults\r` is no keyword to xinetd ("missing service keyword"): the entry goes.

/** Where a '\r' ends the line after `end`: adjacent to it, after blanks, or none. */
function lineEndCr(text: string, end: number): { kind: 'adjacent' | 'apart'; offset: number } | null {
  let i = end;
  while (text[i] === ' ' || text[i] === '\t') i++;
  if (text[i] !== '\r' || (i + 1 < text.length && text[i + 1] !== '\n')) return null;
  return { kind: i === end ? 'adjacent' : 'apart', offset: i };
}

function withCr(w: Word): Word {
  return { text: `${w.text}\r`, loc: { ...w.loc, endColumn: w.loc.endColumn + 1, endOffset: w.loc.endOffset + 1 } };
}

function attributeCr(a: AttributeNode, text: string): void {
  const last = a.values[a.values.length - 1] ?? a.op;
  const cr = lineEndCr(text, last.loc.endOffset);
  if (cr === null) return;
  if (cr.kind === 'adjacent' && a.values.length > 0) {
    a.values[a.values.length - 1] = withCr(last);
    return;
  }
  const column = last.loc.endColumn + (cr.offset - last.loc.endOffset);
  const loc: Loc = { ...last.loc, column, offset: cr.offset, endColumn: column + 1, endOffset: cr.offset + 1 };
  a.values.push({ text: '\r', loc });
}

function keepCarriageReturns(config: ConfigNode, text: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  config.items = config.items.filter((item) => {
    switch (item.kind) {
      case 'service':
        if (lineEndCr(text, item.name.loc.endOffset)?.kind === 'adjacent') item.name = withCr(item.name);
        for (const a of item.attributes) attributeCr(a, text);
        return true;
      case 'defaults': {
        if (lineEndCr(text, item.keyword.loc.endOffset)?.kind === 'adjacent') {
          const close = item.end.kind === 'close' ? `line ${item.end.loc.line}` : 'the end of the entry';
          out.push(
            diag(
              'dos-line-ends',
              'error',
              at(item.keyword.loc),
              `'${item.keyword.text}\r' is not the keyword 'defaults' (DOS line end): xinetd ignores these defaults up to ${close} ("missing service keyword"), and so does tsinetd`,
              width(item.keyword.loc),
            ),
          );
          return false;
        }
        for (const a of item.attributes) attributeCr(a, text);
        return true;
      }
      case 'include':
      case 'includedir':
        if (lineEndCr(text, item.path.loc.endOffset)?.kind === 'adjacent') item.path = withCr(item.path);
        return true;
      default:
        return true;
    }
  });
  return out;
}

// ---- Diagnostics for the syntax tree -------------------------------------------------------

function at(loc: Loc): { file: string; line: number; column: number } {
  return { file: loc.file, line: loc.line, column: loc.column };
}

function width(loc: Loc): number {
  return loc.endLine === loc.line ? Math.max(1, loc.endColumn - loc.column) : 1;
}

function entryLabel(entry: ServiceNode | DefaultsNode): string {
  return entry.kind === 'service' ? `service '${entry.name.text}'` : "'defaults'";
}

/** Where a skip region ends, in words: "line 14" or "the end of the file". */
function skipEnd(skip: SkipRegion): string {
  return skip.close === null ? 'the end of the file' : `line ${skip.close.line}`;
}

function itemDiagnostics(item: TopNode): Diagnostic[] {
  switch (item.kind) {
    case 'service':
    case 'defaults':
      return entryDiagnostics(item);
    case 'include':
    case 'includedir': {
      const [extra] = item.extra;
      return extra !== undefined
        ? [
            diag(
              'extra-text',
              'warning',
              at(extra.loc),
              `extra text after the ${item.kind === 'include' ? 'file' : 'directory'} name is ignored (as xinetd does)`,
              width(extra.loc),
            ),
          ]
        : [];
    }
    case 'bad-entry': {
      const what = item.code === 'missing-name' ? 'a service name' : item.keyword.text.toLowerCase() === 'include' ? 'a file name' : 'a directory name';
      const d = diag(
        'bad-directive',
        'error',
        at(item.keyword.loc),
        `'${item.keyword.text}' needs ${what}; xinetd ignores everything from here to ${skipEnd(item.skip)}`,
        width(item.keyword.loc),
      );
      return [d, ...skippedDiagnostics(item.skip, item.keyword.loc.line)];
    }
    case 'stray': {
      const first = item.line.first;
      let message: string;
      if (first.text === '}') message = "unmatched '}': no entry is open here";
      else if (first.text === '{') message = "'{' without 'service NAME' or 'defaults' on the line before it";
      else message = `'${first.text}' outside of any entry: expected 'service NAME', 'defaults', 'include FILE' or 'includedir DIR'`;
      message += `; xinetd ignores everything from here to the next line holding only '}' (${skipEnd(item.skip)})`;
      return [diag('bad-directive', 'error', at(first.loc), message, width(first.loc)), ...skippedDiagnostics(item.skip, first.loc.line)];
    }
  }
}

function entryDiagnostics(entry: ServiceNode | DefaultsNode): Diagnostic[] {
  const out: Diagnostic[] = [];
  const brace = entry.extra.find((w) => w.text === '{' || w.text.startsWith('{'));
  const extra = entry.extra[0];
  if (extra !== undefined && !(brace !== undefined && entry.end.kind === 'missing-open')) {
    out.push(
      diag(
        'extra-text',
        'warning',
        at(extra.loc),
        `extra text after ${entry.kind === 'service' ? "'service NAME'" : "'defaults'"} is ignored (as xinetd does)`,
        width(extra.loc),
      ),
    );
  }
  const ends = endDiagnostics(entry, entry.end, brace);
  // After `disable = yes` xinetd stops reading the entry and skips to the next lone '}': a broken
  // end of a disabled service costs nothing more, so it is only a warning.
  const disabled = entry.kind === 'service' ? entry.attributes.find(isDisableYes) : undefined;
  const [first] = ends;
  if (disabled !== undefined && first !== undefined && first.severity === 'error') {
    ends[0] = { ...first, severity: 'warning', message: `${first.message} (the service is disabled on line ${disabled.loc.line} anyway)` };
  }
  out.push(...ends);
  return out;
}

function isDisableYes(a: AttributeNode): boolean {
  return a.name.text.toLowerCase() === 'disable' && a.op.text === '=' && a.values.length === 1 && a.values[0]?.text.toLowerCase() === 'yes';
}

function endDiagnostics(entry: ServiceNode | DefaultsNode, end: EntryEnd, brace: Word | undefined): Diagnostic[] {
  const label = entryLabel(entry);
  const lines = `lines ${entry.loc.line}-`;
  switch (end.kind) {
    case 'close':
      return [];
    case 'eof':
      return [
        diag(
          'unclosed-entry',
          'error',
          at(entry.keyword.loc),
          `missing '}': ${label} is not closed before the end of the file; xinetd ignores it ("incomplete entry")`,
          width(entry.keyword.loc),
        ),
      ];
    case 'missing-open': {
      const consequence =
        entry.kind === 'service'
          ? `xinetd ignores ${label}` + (end.skip === null ? '' : ` and everything up to ${skipEnd(end.skip)}`)
          : `xinetd ignores these defaults` + (end.skip === null ? '' : ` and everything up to ${skipEnd(end.skip)}`);
      const skipped = end.skip === null ? [] : skippedDiagnostics(end.skip, end.loc.line);
      if (brace !== undefined) {
        return [
          diag('brace-placement', 'error', at(brace.loc), `'{' must be on a line of its own, after the '${entry.keyword.text}' line; ${consequence}`, 1),
          ...skipped,
        ];
      }
      const found = end.line === null ? 'the end of the file' : `'${end.line.first.text}'`;
      return [
        diag(
          'brace-placement',
          'error',
          end.line === null ? at(entry.keyword.loc) : at(end.line.first.loc),
          `expected a line holding only '{' after the '${entry.keyword.text}' line, found ${found}; ${consequence}`,
        ),
        ...skipped,
      ];
    }
    case 'bad': {
      const consequence =
        entry.kind === 'service'
          ? `xinetd ignores ${label} (${lines}${end.skip === null || end.skip.close === null ? 'end of file' : end.skip.close.line})`
          : 'xinetd stops reading the defaults at this line: the attributes after it are not applied';
      const d = badLineDiagnostic(end.bad, entry, consequence);
      return [d, ...(end.skip === null ? [] : skippedDiagnostics(end.skip, end.bad.loc.line))];
    }
  }
}

function badLineDiagnostic(bad: BadLineNode, entry: ServiceNode | DefaultsNode, consequence: string): Diagnostic {
  const name = bad.name.text;
  const lower = name.toLowerCase();
  const where = at(bad.loc);
  if (ENTRY_KEYWORDS.has(lower) && bad.code !== 'no-space-before-operator') {
    const lost = bad.found === undefined ? `'${name}'` : `'${name} ${bad.found.text}'`;
    return diag(
      'bad-line',
      'error',
      where,
      `missing '}' before '${name}': ${entryLabel(entry)} (line ${entry.loc.line}) is still open; ${consequence}, and ${lost} on this line with it`,
      width(bad.name.loc),
    );
  }
  switch (bad.code) {
    case 'no-space-before-operator': {
      const opColumn = bad.name.loc.endColumn;
      const trailing = /[+-]$/.test(name) ? name.slice(-1) : '';
      const shown = trailing === '' ? name : name.slice(0, -1);
      return diag(
        'bad-line',
        'error',
        { file: where.file, line: where.line, column: trailing === '' ? opColumn : opColumn - 1 },
        `put a space between '${shown}' and '${trailing}='; xinetd rejects '${name}=' ("needs a space before operator"): ${consequence}`,
      );
    }
    case 'nothing-after-name':
      if (name.startsWith('{')) return diag('brace-placement', 'error', where, `unexpected '{': an entry cannot contain another block; ${consequence}`, 1);
      if (name.startsWith('}')) return diag('brace-placement', 'error', where, `'}' must be alone on its line; ${consequence}`, width(bad.name.loc));
      return diag('bad-line', 'error', where, `'${name}' has no operator and value: expected '${name} = VALUE'; ${consequence}`, width(bad.name.loc));
    case 'bad-operator': {
      if (name === '}') {
        return diag(
          'brace-placement',
          'error',
          where,
          `'}' must be alone on its line (xinetd reads '} ${bad.found?.text ?? ''}' as an attribute named '}'); ${consequence}`,
          1,
        );
      }
      const found = bad.found;
      const fwhere = found === undefined ? where : at(found.loc);
      return diag(
        'bad-line',
        'error',
        fwhere,
        `expected '=', '+=' or '-=' after '${name}', found '${found?.text ?? ''}'; ${consequence}`,
        found === undefined ? 1 : width(found.loc),
      );
    }
  }
}

/** One warning per entry (`service x`, `includedir d`...) lost inside a skipped region. */
function skippedDiagnostics(skip: SkipRegion, errorLine: number): Diagnostic[] {
  return skip.skipped.map((s) => {
    const what = s.argument === null ? `'${s.keyword.text}'` : `'${s.keyword.text} ${s.argument.text}'`;
    return diag(
      'skipped-line',
      'warning',
      at(s.keyword.loc),
      `${what} is ignored: it is inside the lines xinetd skips after the error on line ${errorLine} (up to ${skipEnd(skip)}); fix that error`,
      width(s.keyword.loc),
    );
  });
}

// ---- Value grammars ----------------------------------------------------------------------------

export type ValueResult<T> = { ok: true; value: T } | { ok: false; diagnostic: Diagnostic };

/**
 * The values read so far, by rule and text (a value never depends on where it is written): a
 * generated configuration repeats the same few (`no`, `127.0.0.1`...) thousands of times, and a
 * parse per value was a tenth of loading 10,000 services (#16). Frozen, since they are shared;
 * failures are not kept (their diagnostic is located).
 */
const parsedValues = new BoundedTable<unknown>(4096);

function frozen<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Applies the value grammar `rule` to `text`, which starts at `start` in the file (a value
 * never spans lines). Failures become an error Diagnostic at the offending column.
 */
export function parseValue<R extends ValueRule>(rule: R, text: string, start: { file: string; line: number; column: number }): ValueResult<ValueRules[R]> {
  const key = `${rule} ${text}`;
  const known = parsedValues.get(key);
  if (known !== undefined) return { ok: true, value: known as ValueRules[R] };
  try {
    const value = frozen(peggyParse(text, { startRule: rule }) as ValueRules[R]);
    parsedValues.set(key, value);
    return { ok: true, value };
  } catch (err) {
    if (!(err instanceof PeggySyntaxError)) throw err;
    const column = start.column + err.location.start.column - 1;
    const found = err.expected === null ? '' : (text.slice(err.location.start.offset).split(/[ \t]/)[0] ?? '');
    const length = Math.max(1, found.length, err.location.end.offset - err.location.start.offset);
    return { ok: false, diagnostic: diag('syntax', 'error', { file: start.file, line: start.line, column }, syntaxErrorText(err, text), length) };
  }
}

/** A value grammar applied to one word of the file. */
export function parseWord<R extends ValueRule>(rule: R, word: Word): ValueResult<ValueRules[R]> {
  return parseValue(rule, word.text, at(word.loc));
}

/**
 * A value grammar applied to several words joined by single spaces (log_type). Error columns
 * are mapped back onto the word they fall in.
 */
export function parseWords<R extends ValueRule>(rule: R, words: readonly Word[]): ValueResult<ValueRules[R]> {
  const first = words[0];
  if (first === undefined) return parseValue(rule, '', { file: '', line: 1, column: 1 });
  const r = parseValue(rule, words.map((w) => w.text).join(' '), { file: first.loc.file, line: first.loc.line, column: 1 });
  if (r.ok) return r;
  // r.diagnostic.column is 1-based in the joined text: find the word it falls in (or just after).
  const offset = r.diagnostic.column - 1;
  let start = 0;
  for (const w of words) {
    if (offset <= start + w.text.length) {
      return { ok: false, diagnostic: { ...r.diagnostic, column: w.loc.column + Math.max(0, offset - start) } };
    }
    start += w.text.length + 1;
  }
  const last = present(words.at(-1), 'a word (the first was there)');
  return { ok: false, diagnostic: { ...r.diagnostic, column: last.loc.column + last.text.length } };
}

/**
 * "expected X or Y, found Z" for Peggy's failures, or the grammar's own error() text. With the
 * parsed `text`, Z is the rest of the word where parsing stopped rather than one character.
 */
export function syntaxErrorText(err: PeggySyntaxError, text?: string): string {
  if (err.expected === null) return err.message;
  let found = err.found === null ? 'the end of the value' : `'${err.found}'`;
  if (text !== undefined && err.found !== null) {
    const word = text.slice(err.location.start.offset).split(/[ \t]/)[0] ?? '';
    if (word.length > 0) found = `'${word}'`;
  }
  return `expected ${describeExpected(err.expected)}, found ${found}`;
}

/** Expectations of blanks only (the grammar allows more spaces) say nothing useful. */
function isBlankClass(e: PeggyExpectation): boolean {
  return e.type === 'class' && !e.inverted && e.parts.every((p) => typeof p === 'string' && /^[ \t\r\f\v]+$/.test(p));
}

function describeExpected(all: readonly PeggyExpectation[]): string {
  const useful = all.filter((e) => !isBlankClass(e));
  const expected = useful.length > 0 ? useful : all;
  const parts: string[] = [];
  for (const e of expected) {
    let d: string;
    switch (e.type) {
      case 'literal':
        d = `'${e.text}'`;
        break;
      case 'class':
        d = describeClass(e.parts, e.inverted);
        break;
      case 'any':
        d = 'a character';
        break;
      case 'end':
        d = 'the end of the value';
        break;
      case 'other':
        d = e.description;
        break;
    }
    if (!parts.includes(d)) parts.push(d);
  }
  if (parts.length <= 1) return parts[0] ?? 'something else';
  return `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
}

function describeClass(parts: readonly (string | [string, string])[], inverted: boolean): string {
  const s = parts.map((p) => (typeof p === 'string' ? p : `${p[0]}-${p[1]}`)).join('');
  if (s === '0-9') return 'a digit';
  if (s === '0-7') return 'an octal digit (0-7)';
  return `${inverted ? 'a character other than' : 'one of'} [${s}]`;
}

function syntaxErrorDiagnostic(err: PeggySyntaxError, file: string): Diagnostic {
  const l = err.location;
  return diag('syntax', 'error', { file, line: l.start.line, column: l.start.column }, syntaxErrorText(err), Math.max(1, l.end.offset - l.start.offset));
}
