// The typed face of the generated inetd.conf parser (build/grammar/inetd.js): the file as
// located nodes, and the shape of single fields. Pure; never throws (the grammar accepts every
// input, and a failure of the generated code itself becomes a diagnostic).

import * as grammar from '../../../grammar/inetd.js';
import type { InetdNode, InetdWord, ServiceFieldShape, ProtocolShape, StartRuleResults, UserFieldShape, WaitFieldShape } from '../../../grammar/inetd.js';
import { diag, type Diagnostic, type SourcePosition } from '../../diagnostics.js';

export type { InetdNode, InetdWord, InetdEntryNode, InetdCommentNode, InetdPolicyNode, WordPiece, HostPiece } from '../../../grammar/inetd.js';
export type { ServiceFieldShape, ProtocolShape, UserFieldShape, WaitFieldShape };

export interface InetdSyntax {
  nodes: InetdNode[];
  diagnostics: Diagnostic[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The located nodes of a whole inetd.conf text. `quotes`: FreeBSD's quoted words (`"a b"` is
 * one word); the other inetds take quotes literally.
 */
export function parseInetdText(file: string, text: string, quotes = false): InetdSyntax {
  try {
    const startRule = quotes ? 'FileFreeBSD' : 'File';
    return { nodes: grammar.parse(text, { startRule, grammarSource: file }) as InetdNode[], diagnostics: [] };
  } catch (err) {
    const at = err instanceof grammar.SyntaxError ? err.location.start : { line: 1, column: 1 };
    return {
      nodes: [],
      diagnostics: [diag('unreadable-file', 'error', { file, line: at.line, column: at.column }, `cannot read this file: ${message(err)}`)],
    };
  }
}

type FieldRule = Exclude<keyof StartRuleResults, 'File' | 'FileFreeBSD'>;

/**
 * Cuts one word with a field rule. The field rules accept any word, so null only means that
 * the generated parser itself failed.
 */
export function parseField<R extends FieldRule>(rule: R, word: string): StartRuleResults[R] | null {
  try {
    return grammar.parse(word, { startRule: rule }) as StartRuleResults[R];
  } catch {
    return null;
  }
}

/** The position of the character `offset` characters into `word`. */
export function positionIn(file: string, word: InetdWord, offset = 0): SourcePosition {
  return { file, line: word.line, column: word.column + (word.quoted ? 1 : 0) + offset };
}

/** The position just after the last character of `word` (where a missing next field would go). */
export function positionAfter(file: string, word: InetdWord): SourcePosition {
  const quotes = word.quoted ? (word.unclosed === true ? 1 : 2) : 0;
  return { file, line: word.line, column: word.column + word.text.length + quotes };
}
