// The located syntax tree of an xinetd configuration file, as grammar/xinetd.peggy builds it.
//
// Only src/config/xinetd/parse.ts (which produces it) and src/config/xinetd/build.ts (which turns it into Services) use
// these types; everything downstream reads src/table.ts.

/** Where a node is: 1-based line and column of its first character, and where it ends. */
export interface Loc {
  file: string;
  line: number;
  column: number;
  offset: number;
  endLine: number;
  endColumn: number;
  endOffset: number;
}

/** A word of the file (a keyword, an attribute name, an operator or one value). */
export interface Word {
  text: string;
  loc: Loc;
}

export type Operator = '=' | '+=' | '-=';

/** `name op value value ...` */
export interface AttributeNode {
  kind: 'attribute';
  loc: Loc;
  name: Word;
  op: Word & { text: Operator };
  values: Word[];
}

/**
 * xinetd's skip_entry(): the lines skipped after a bad line, up to and including the next line
 * holding only '}'. `close` is null when the skipping ran to the end of the file.
 */
export interface SkipRegion {
  loc: Loc;
  close: Loc | null;
  /** Skipped lines that would have started an entry (`service x`, `include f`...). */
  skipped: SkippedEntry[];
}

export interface SkippedEntry {
  keyword: Word;
  argument: Word | null;
  loc: Loc;
}

export type BadLineCode = 'no-space-before-operator' | 'nothing-after-name' | 'bad-operator';

/** A line inside an entry that is neither an attribute nor the closing '}'. */
export interface BadLineNode {
  kind: 'bad';
  code: BadLineCode;
  loc: Loc;
  name: Word;
  /** For 'bad-operator': the word found where the operator should be. */
  found?: Word;
}

/** A content line: its first word and the rest of its text. */
export interface LineNode {
  loc: Loc;
  first: Word;
  rest: string;
}

/** How an entry body ended. */
export type EntryEnd =
  | { kind: 'close'; loc: Loc }
  | { kind: 'eof'; loc: Loc }
  /** A bad line; for services the rest is skipped up to the next lone '}' (defaults: skip is null). */
  | { kind: 'bad'; loc: Loc; bad: BadLineNode; skip: SkipRegion | null }
  /** The line after the header was not '{' (line is null at the end of the file). */
  | { kind: 'missing-open'; loc: Loc; line: LineNode | null; skip: SkipRegion | null };

interface EntryCommon {
  loc: Loc;
  keyword: Word;
  /** Words after the keyword (and name) on the header line; xinetd ignores them. */
  extra: Word[];
  open: { loc: Loc } | null;
  attributes: AttributeNode[];
  end: EntryEnd;
}

export interface ServiceNode extends EntryCommon {
  kind: 'service';
  name: Word;
}

export interface DefaultsNode extends EntryCommon {
  kind: 'defaults';
}

export interface IncludeNode {
  kind: 'include' | 'includedir';
  loc: Loc;
  keyword: Word;
  path: Word;
  extra: Word[];
}

/** `service` or `include`/`includedir` without its argument; xinetd skips to the next lone '}'. */
export interface BadEntryNode {
  kind: 'bad-entry';
  code: 'missing-name' | 'missing-path';
  loc: Loc;
  keyword: Word;
  skip: SkipRegion;
}

/** A top-level line that starts no entry (a stray '}', an attribute outside any entry...). */
export interface StrayNode {
  kind: 'stray';
  loc: Loc;
  line: LineNode;
  skip: SkipRegion;
}

export type TopNode = ServiceNode | DefaultsNode | IncludeNode | BadEntryNode | StrayNode;

export interface ConfigNode {
  kind: 'config';
  loc: Loc;
  items: TopNode[];
}

// ---- Results of the value grammars ------------------------------------------------------------

export interface TimeIntervalValue {
  start: number;
  end: number;
}

export type LogTypeValue = { kind: 'file'; path: string; soft: string | null; hard: string | null } | { kind: 'syslog'; facility: string; level: string };

export type AclAddressValue =
  | { kind: 'factorized'; prefix: number[]; values: number[] }
  | { kind: 'cidr4'; address: string; bits: number }
  | { kind: 'cidr6'; address: string; bits: number }
  | { kind: 'ipv4'; text: string; octets: number[] }
  | { kind: 'ipv6'; text: string }
  | { kind: 'domain'; text: string }
  | { kind: 'host'; text: string };

export type HostAddressValue = { kind: 'ipv4'; text: string; octets: number[] } | { kind: 'ipv6'; text: string } | { kind: 'host'; text: string };

/** The value start rules of grammar/xinetd.peggy and what each returns. */
export interface ValueRules {
  Count: number;
  Decimal: number;
  YesNo: boolean;
  TimeInterval: TimeIntervalValue;
  EnvAssignment: { name: string; value: string };
  LogType: LogTypeValue;
  AclAddress: AclAddressValue;
  HostAddress: HostAddressValue;
}

export type ValueRule = keyof ValueRules;
