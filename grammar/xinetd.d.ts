// Type declarations for build/grammar/xinetd.js, the parser Peggy generates from xinetd.peggy.
// Only src/config/xinetd/parse.ts imports it; it narrows the results with the types of src/config/xinetd/syntax.ts.

export interface PeggyPosition {
  offset: number;
  line: number;
  column: number;
}

export interface PeggyLocation {
  source: unknown;
  start: PeggyPosition;
  end: PeggyPosition;
}

export type PeggyExpectation =
  | { type: 'literal'; text: string; ignoreCase: boolean }
  | { type: 'class'; parts: (string | [string, string])[]; inverted: boolean; ignoreCase: boolean }
  | { type: 'any' }
  | { type: 'end' }
  | { type: 'other'; description: string };

export declare class SyntaxError extends Error {
  message: string;
  expected: PeggyExpectation[] | null;
  found: string | null;
  location: PeggyLocation;
}

export interface ParseOptions {
  grammarSource?: unknown;
  startRule?:
    | 'Config'
    | 'ServiceEntry'
    | 'DefaultsEntry'
    | 'IncludeDirective'
    | 'AttributeLine'
    | 'Limit'
    | 'Count'
    | 'SignedInt'
    | 'Port'
    | 'Octal'
    | 'Decimal'
    | 'YesNo'
    | 'DenyTime'
    | 'RlimitSize'
    | 'RlimitCount'
    | 'Size'
    | 'TimeInterval'
    | 'RpcVersion'
    | 'EnvAssignment'
    | 'LogType'
    | 'AclAddress'
    | 'HostAddress';
}

export declare function parse(input: string, options?: ParseOptions): unknown;

export declare const StartRules: string[];
